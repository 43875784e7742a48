import type { Config } from '../config/types.ts';
import { fdSink, type Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/types.ts';
import { startListeners } from '../proxy/listeners.ts';
import type { RawTcp } from '../proxy/tcp/raw-handle.ts';
import type { PrometheusText, RunningListener } from '../proxy/types.ts';
import { GlobCache } from '../routes/index.ts';
import type { TableStore } from '../routes/table-store.ts';
import type { BuildOptions, Matcher, Strategy } from '../routes/types.ts';
import { listenFailure } from './listen-error.ts';

/**
 * The data plane of one process: the proxy listeners over a table store. The single-process path
 * (serve.ts) and every cluster worker (cluster.ts) start it through `startDataPlane`, so listener
 * start-up, the access-log sink and the `[FATAL]` text of a bind failure are written once.
 */

/** Route build options from the configuration (the primary and every worker agree on them). */
export function buildOptionsFrom(cfg: Config): BuildOptions {
  return {
    matcher: cfg.str('proxy.matcher') as Matcher,
    strategy: cfg.str('proxy.strategy') as Strategy,
    globDisabled: cfg.bool('glob.matching.disabled'),
    globCacheSize: cfg.num('glob.cache.size'),
    globCache: new GlobCache(cfg.num('glob.cache.size')),
    counters: new Map(),
    // one bad tag or KV line costs that line, not every later update (docs/compat-routes.md)
    skipBadLines: true,
  };
}

export interface DataPlaneOptions {
  readonly cfg: Config;
  readonly store: TableStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  noRouteHtml(): string;
  /** The exposition a proto=prometheus listener answers with (a worker asks the primary). */
  readonly prometheus: PrometheusText;
  /** The bare-handle TCP API the listeners use: `rawTcpFromEnv(process.env)` at start-up. */
  readonly rawTcp: RawTcp | undefined;
}

/** A listener could not start; `message` is the `[FATAL]` text (listen-error.ts). */
export class ListenFatalError extends Error {
  override readonly name = 'ListenFatalError';
}

/**
 * Starts every configured listener. Rejects with a ListenFatalError naming the listener as written
 * in proxy.addr when one cannot start (the ones already started are closed by startListeners).
 */
export async function startDataPlane(o: DataPlaneOptions): Promise<RunningListener[]> {
  const accessSink = o.cfg.str('log.access.target') === 'stdout' ? fdSink(1) : undefined;
  try {
    return await startListeners({
      cfg: o.cfg,
      store: o.store,
      log: o.log,
      metrics: o.metrics,
      noRouteHtml: o.noRouteHtml,
      accessLog: accessSink ? (line: string) => accessSink.write(line) : undefined,
      prometheus: o.prometheus,
      rawTcp: o.rawTcp,
    });
  } catch (err) {
    throw new ListenFatalError(listenFailure(err, o.cfg.listeners), { cause: err });
  }
}
