import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { TrafficSource } from '../metrics/traffic.ts';
import type { HistoryEntry, ManualStore } from '../registry/types.ts';
import type { TableStore } from '../routes/table-store.ts';
import type { Table } from '../routes/types.ts';

/** A problem reported by the table updater: an untranslatable tag or a failed route-command line. */
export interface UpdaterWarning {
  readonly service: string;
  readonly message: string;
  readonly line?: number;
  readonly tag?: string;
}

/** The shape src/runtime/table-updater.ts returns from warnings(). */
export interface UpdaterWarningSet {
  readonly tags: readonly { readonly service: string; readonly tag: string; readonly message: string }[];
  readonly buildError: string;
}

/**
 * What the admin server needs from the table updater (src/runtime/table-updater.ts); the lead
 * adapts the real TableUpdater to this shape.
 */
export interface UpdaterView {
  /** Last table changes (most recent last or first; shown newest first). */
  history(): readonly HistoryEntry[];
  /** Either a flat list, or the TableUpdater's {tags, table, buildError} (table warnings are read from the live table). */
  warnings(): readonly UpdaterWarning[] | UpdaterWarningSet;
  /** Called after every history/warning change; returns an unsubscribe function. */
  onChange(fn: () => void): () => void;
}

export interface AdminDeps {
  readonly cfg: Config;
  readonly store: TableStore;
  readonly log: Logger;
  readonly version: string;
  readonly updater: UpdaterView;
  /** Consul KV overrides; undefined for the other backends. */
  readonly manual: ManualStore | undefined;
  /** /metrics on the admin port. */
  readonly metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** Per-route traffic for the UI charts (/api/traffic). */
  readonly traffic?: TrafficSource;
  /** /api/config body (configJson(cfg) from src/config); default cfg.values. */
  readonly configJson?: () => unknown;
  /**
   * Route text → table with the live build options, never swapped in (the Overrides editor's
   * what-if, POST /api/preview). Without it the preview answers 501.
   */
  readonly build?: (text: string) => Table;
  /** TLS options when ui.addr has cs= (built by the lead with src/proxy/tls); plain HTTP otherwise. */
  readonly tls?: TlsOptions & SecureContextOptions;
  /**
   * Why the process is not healthy (one line), or undefined when it is: /health answers 503 with
   * the reason, else 200 `OK`. Absent: always `OK` (fabio's behaviour).
   */
  readonly health?: () => string | undefined;
}

export interface RunningAdmin {
  readonly port: number;
  /** Stop accepting, end event streams, let requests finish for up to graceMs, then destroy sockets. */
  close(graceMs: number): Promise<void>;
}
