import type { TagWarning } from '../routes/tags.ts';
import type { TextEdit } from '../routes/text-edit.ts';

/**
 * Contract between registry backends and the rest of the product. A backend produces route text
 * (service routes + manual overrides) and the no-route HTML; the table updater turns text into
 * tables. Backends never touch listeners.
 */

export interface RouteTextUpdate {
  /** Combined route text: service routes, then "\n", then manual overrides (fabio's order). */
  readonly text: string;
  /** Why it changed, for the history: 'consul', 'kv', 'file', 'static', 'custom', 'api'. */
  readonly cause: string;
  /** Consul index that produced it (0 when not from Consul). */
  readonly index: number;
  /** Tags that could not be translated: shown in the UI and logged, never fatal. */
  readonly tagWarnings?: readonly ServiceTagWarning[];
  /**
   * How `text` was made from the text this backend emitted before (issue #17): consumers that hold
   * `edit.base` use the replaced stretches instead of comparing whole texts; others ignore it.
   */
  readonly edit?: TextEdit | undefined;
}

/** A tag of one service that could not be translated (the one definition: issue #16). */
export interface ServiceTagWarning extends TagWarning {
  readonly service: string;
}

export interface RegistrySink {
  routes(update: RouteTextUpdate): void;
  noRouteHtml(html: string): void;
}

/** Manual overrides (Consul KV under registry.consul.kvpath) for the UI editor and /api/manual. */
export interface ManualStore {
  /** Keys under kvpath with the kvpath (without leading '/') stripped, e.g. ['', '/foo']. */
  paths(): Promise<string[]>;
  get(sub: string): Promise<{ value: string; version: string }>;
  /** Compare-and-set; resolves false on a version mismatch (409). */
  put(sub: string, value: string, version: string): Promise<boolean>;
}

export interface RegistryBackend {
  /** Connect (retrying every registry.retry until registry.timeout); rejects on timeout. */
  connect(): Promise<void>;
  /** Start watching; updates arrive through the sink until stop(). */
  watch(sink: RegistrySink): void;
  /** Register fabio-ts and its aliases (opts register=name); no-op for non-Consul backends. */
  register(aliases: readonly string[]): Promise<void>;
  /** Deregister everything registered (shutdown). */
  deregister(): Promise<void>;
  readonly manual: ManualStore | undefined;
  stop(): Promise<void>;
}

/** One table change, kept in memory (last 100) for /api/routes/history and the UI. */
export interface HistoryEntry {
  readonly time: string;
  readonly cause: string;
  readonly index: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Set when the build failed and the previous table was kept. */
  readonly error?: string;
  /**
   * fabio-ts (issue #15): set on the entries passive outlier detection adds (cause 'outlier',
   * index 0, no lines): a target ejected or returned. The table itself did not change.
   */
  readonly outlier?: OutlierChange;
}

/** A target ejected by passive outlier detection, or back for its trial when the ejection ran out. */
export interface OutlierChange {
  readonly event: 'ejected' | 'returned';
  readonly service: string;
  /** The target's URL as in the route command. */
  readonly url: string;
  /** The route (host and path) whose request failed last. */
  readonly route: string;
  /** For 'ejected': how long, in seconds. */
  readonly seconds?: number;
  /** `ejected <url> of <route> for 30s` or `returned <url> of <route>`. */
  readonly message: string;
}
