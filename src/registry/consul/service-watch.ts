import type { Logger } from '../../log/logger.ts';
import type { TextEdit } from '../../routes/index.ts';
import { type BlockingHooks, type BlockingOptions, blockingLoop } from './blocking.ts';
import type { ConsulClient, ConsulResponse } from './client.ts';
import { type HealthCheck, type HealthFilterOptions, healthyServices, instanceKey } from './health-filter.ts';
import { type CatalogRow, RouteLineSet, type TagWarning, translateRows } from './route-lines.ts';

/**
 * Per-service watch (registry.consul.watch=service, the consul-template / Traefik style): one blocking query on /v1/catalog/services for the names and tags, and one
 * blocking query on /v1/health/service/<name> per service that carries a tag with the prefix.
 * A health change transfers and parses only that service's small body (a few KB) instead of the
 * whole cluster's health state (4.4 MB at 15,000 checks), and needs no catalog read: the
 * health/service body carries the addresses, ports and tags.
 *
 * The price: one open connection and one parked request per routed service (N + 1 long-polls),
 * and a node-level check (serfHealth, node maintenance) wakes every service on that node. Consul
 * limits concurrent HTTP connections per client address (limits.http_max_conns_per_client,
 * default 200), so clusters with more routed services than that must raise it.
 *
 * The same health filter (section (j)) is applied to each service's checks; the first text is
 * published once every routed service has been read once; later changes are published at once,
 * bursts (a node check waking every service) within a few milliseconds coalesce into one text.
 */

export interface ServiceWatchOptions extends HealthFilterOptions {
  readonly dc: string;
  readonly loop: Omit<BlockingOptions, 'path'>;
}

export interface ServiceWatchSink {
  /**
   * Service route text changed (or the first complete text). `edit`: how it was made from the text
   * before it (RouteLineSet.edit), when known; a consumer checks its base.
   */
  publish(text: string, warnings: readonly TagWarning[], index: number, edit?: TextEdit): void;
  /** An error of the catalog/services watch or of any service watch (first: healthy → failing). */
  error(err: unknown, first: boolean): void;
  /** Every watch succeeds again after an error. */
  recovered(): void;
  /** The catalog/services index went backwards (first: the first of an episode). */
  reset(first: boolean): void;
  /** Logging of early answers and repeated resets of the catalog/services watch. */
  readonly misbehaviour?: Pick<BlockingHooks, 'onEarly' | 'onCalm'>;
}

/** Entry of /v1/health/service/<name>. */
interface HealthEntry {
  readonly Node?: { readonly Node?: string; readonly Address?: string } | null;
  readonly Service?: {
    readonly ID?: string;
    readonly Service?: string;
    readonly Tags?: readonly string[] | null;
    readonly Address?: string;
    readonly Port?: number;
  } | null;
  readonly Checks?: readonly Partial<HealthCheck>[] | null;
}

/** Minimum time between two publications while changes keep coming (a lone change waits for none). */
const PUBLISH_GAP_MS = 5;

/** Whether Consul vouches for an empty answer (known leader, no ACL filtering). */
export function vouched(res: ConsulResponse): boolean {
  if (res.headers['x-consul-knownleader'] === 'false') return false;
  if (res.headers['x-consul-results-filtered-by-acls'] === 'true') return false;
  return true;
}

const hasPrefixedTag = (tags: readonly unknown[], prefix: string) =>
  tags.some((t) => typeof t === 'string' && t.trim().startsWith(prefix));

/**
 * Turns a health/service body into health-state checks and catalog rows, so that the same filter
 * and translation as the state watch apply. Service checks take the tags of the entry's Service.
 */
export function healthEntries(
  name: string,
  entries: readonly HealthEntry[],
): { checks: HealthCheck[]; rows: CatalogRow[] } {
  const checks: HealthCheck[] = [];
  const rows: CatalogRow[] = [];
  for (const e of entries) {
    if (!e || typeof e !== 'object' || !e.Service) continue;
    const node = String(e.Node?.Node ?? '');
    const sid = String(e.Service.ID ?? '');
    const svc = String(e.Service.Service ?? name);
    // A malformed entry costs that entry only (tags must be a list of strings).
    const rawTags = e.Service.Tags ?? [];
    if (!Array.isArray(rawTags) || !rawTags.every((t) => typeof t === 'string')) continue;
    const tags = rawTags as string[];
    rows.push({
      Node: node,
      Address: String(e.Node?.Address ?? ''),
      ServiceID: sid,
      ServiceName: svc,
      ServiceAddress: String(e.Service.Address ?? ''),
      ServicePort: Number(e.Service.Port) || 0,
      ServiceTags: tags,
    });
    for (const c of Array.isArray(e.Checks) ? e.Checks : []) {
      if (!c || typeof c !== 'object') continue;
      const own = String(c.ServiceID ?? '') !== '';
      checks.push({
        Node: node,
        CheckID: String(c.CheckID ?? ''),
        Status: String(c.Status ?? ''),
        ServiceID: own ? sid : '',
        ServiceName: own ? svc : '',
        ServiceTags: own ? tags : [],
      });
    }
  }
  return { checks, rows };
}

export class ServiceWatch {
  readonly #client: ConsulClient;
  readonly #o: ServiceWatchOptions;
  readonly #sink: ServiceWatchSink;
  readonly #lines = new RouteLineSet();
  readonly #watches = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /** Routed services not read yet: the first text waits for them. */
  readonly #unread = new Set<string>();
  readonly #failing = new Set<string>();
  #listed = false;
  #index = 0;
  #timer: { cancel(): void } | undefined;
  #lastPublish = Number.NEGATIVE_INFINITY;
  #published: string | undefined;
  #publishedWarnings: readonly TagWarning[] | undefined;
  #signal: AbortSignal | undefined;

  constructor(client: ConsulClient, o: ServiceWatchOptions, _log: Logger, sink: ServiceWatchSink) {
    this.#client = client;
    this.#o = o;
    this.#sink = sink;
  }

  /** Number of per-service watches running (tests). */
  get watching(): number {
    return this.#watches.size;
  }

  /** Runs until the signal aborts; resolves when every loop has ended. */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    const abortAll = () => {
      for (const w of this.#watches.values()) w.abort.abort();
    };
    signal.addEventListener('abort', abortAll, { once: true });
    let lastBody: string | undefined;
    await blockingLoop(
      this.#client,
      { ...this.#o.loop, path: '/v1/catalog/services' },
      {
        onResponse: (res, index) => {
          if (res.body === lastBody) return;
          const body = JSON.parse(res.body) as Record<string, unknown> | null;
          if (body !== null && (typeof body !== 'object' || Array.isArray(body)))
            throw new Error('catalog services response is not an object');
          const routed = new Set<string>();
          for (const [name, tags] of Object.entries(body ?? {}))
            if (Array.isArray(tags) && hasPrefixedTag(tags, this.#o.tagPrefix)) routed.add(name);
          if (routed.size === 0 && this.#watches.size > 0 && !vouched(res))
            throw new Error('empty catalog without a known leader or filtered by ACLs; keeping the last routes');
          lastBody = res.body;
          this.#index = Math.max(this.#index, index);
          for (const name of [...this.#watches.keys()]) if (!routed.has(name)) this.#unwatch(name);
          for (const name of routed) if (!this.#watches.has(name)) this.#watch(name);
          this.#listed = true;
          this.#schedule();
        },
        onReset: (first) => {
          lastBody = undefined;
          this.#sink.reset(first);
        },
        onError: (err) => this.#failed('', err),
        onRecover: () => this.#recovered(''),
        ...this.#sink.misbehaviour,
      },
      signal,
    );
    signal.removeEventListener('abort', abortAll);
    const ending = [...this.#watches.values()].map((w) => w.done);
    for (const name of [...this.#watches.keys()]) this.#unwatch(name);
    await Promise.all(ending);
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #watch(name: string): void {
    // The children are aborted by run() when the parent signal aborts (one listener, not N).
    const abort = new AbortController();
    if (this.#signal?.aborted) abort.abort();
    this.#unread.add(name);
    let lastBody: string | undefined;
    const done = blockingLoop(
      this.#client,
      { ...this.#o.loop, path: `/v1/health/service/${encodeURIComponent(name)}` },
      {
        onResponse: (res, index) => {
          if (res.body === lastBody) return;
          const body = JSON.parse(res.body) as HealthEntry[] | null;
          if (body !== null && !Array.isArray(body)) throw new Error('health service response is not a list');
          if ((body ?? []).length === 0 && this.#lines.has(name) && !vouched(res))
            throw new Error('empty health answer without a known leader or filtered by ACLs; keeping the last routes');
          const { checks, rows } = healthEntries(name, body ?? []);
          const healthy = healthyServices(checks, this.#o);
          const members = new Set<string>();
          for (const h of healthy.values()) for (const i of h.instances) members.add(instanceKey(i.node, i.id));
          // Tag warnings are logged by the table updater (once while they persist).
          const out = translateRows(name, rows, members, instanceKey, this.#o);
          const next = out.lines.length > 0 || out.warnings.length > 0 ? out : undefined;
          if (this.#lines.set(name, next)) {
            this.#index = Math.max(this.#index, index);
            this.#schedule();
          }
          lastBody = res.body;
          if (this.#unread.delete(name) && this.#unread.size === 0) this.#schedule();
        },
        onError: (err) => {
          this.#failed(name, err);
          // A service that cannot be read must not hold back the first table of all the others.
          if (this.#unread.delete(name) && this.#unread.size === 0) this.#schedule();
        },
        onRecover: () => this.#recovered(name),
      },
      abort.signal,
    );
    this.#watches.set(name, { abort, done });
  }

  #unwatch(name: string): void {
    const w = this.#watches.get(name);
    if (!w) return;
    w.abort.abort();
    this.#watches.delete(name);
    this.#unread.delete(name);
    this.#failing.delete(name);
    if (this.#lines.set(name, undefined)) this.#schedule();
  }

  #failed(name: string, err: unknown): void {
    const first = this.#failing.size === 0;
    this.#failing.add(name);
    this.#sink.error(err, first);
  }

  #recovered(name: string): void {
    if (!this.#failing.delete(name)) return;
    if (this.#failing.size === 0) this.#sink.recovered();
  }

  /** Publishes soon: at once after a quiet period, at most every PUBLISH_GAP_MS under a burst. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#signal?.aborted) return;
    const wait = this.#lastPublish + PUBLISH_GAP_MS - performance.now();
    const run = () => {
      this.#timer = undefined;
      this.#publish();
    };
    // setImmediate: answers already received in this I/O phase are applied before the join.
    if (wait > 0) {
      const t = setTimeout(run, wait);
      this.#timer = { cancel: () => clearTimeout(t) };
    } else {
      const t = setImmediate(run);
      this.#timer = { cancel: () => clearImmediate(t) };
    }
  }

  /** See RouteLineSet.adopt; the published text is that string from now on. */
  adopt(flat: string): void {
    if (this.#lines.adopt(flat) && this.#published !== undefined) this.#published = flat;
  }

  #publish(): void {
    if (this.#signal?.aborted || !this.#listed || this.#unread.size > 0) return;
    this.#lastPublish = performance.now();
    const text = this.#lines.text();
    // warnings() is a new list after every change of a service's lines or warnings: a tag warning
    // that comes or goes with unchanged route text is still published
    const warnings = this.#lines.warnings();
    if (text === this.#published && warnings === this.#publishedWarnings) return;
    this.#published = text;
    this.#publishedWarnings = warnings;
    this.#sink.publish(text, warnings, this.#index, this.#lines.edit());
  }
}
