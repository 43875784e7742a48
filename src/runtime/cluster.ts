import cluster, { type Worker } from 'node:cluster';
import { isSea } from 'node:sea';
import { AggregatorRegistry } from 'prom-client';
import { CFG_TEXT_ENV, loadConfig } from '../config/index.ts';
import { createLogger, type Logger, parseLevel } from '../log/logger.ts';
import { createPrometheusMetrics } from '../metrics/prometheus.ts';
import type { Source } from '../metrics/push-snapshot.ts';
import { mergeTrafficSnapshots, type TrafficReport, type TrafficSnapshot } from '../metrics/traffic.ts';
import { afterSwaps } from '../proxy/after-swaps.ts';
import { balancerFor } from '../proxy/outlier/balancer.ts';
import { rawTcpFromEnv } from '../proxy/tcp/raw-handle.ts';
import type { RunningListener } from '../proxy/types.ts';
import { buildTable, type TextEdit, WARM_ROUNDS, warmBuilds } from '../routes/index.ts';
import { TableStore } from '../routes/table-store.ts';
import { type OutlierToPrimary, workerOutlier } from './cluster-outlier.ts';
import { buildOptionsFrom, startDataPlane } from './data-plane.ts';
import type { Health } from './health.ts';
import { type RoutesMessage, RouteTextReceiver, RouteTextSender } from './route-sync.ts';

/**
 * The multi-process model (architecture rule 8). The primary runs the registry watch, the table
 * updater and the admin server once; each worker builds its own table from the route text the
 * primary sends over IPC and serves every listener. The kernel spreads accepted connections over
 * the workers (SCHED_NONE: no hand-off through the primary). A worker that dies is restarted; the
 * others keep serving.
 *
 * Messages primary → worker: {t:'routes', seq, text} (the whole route text), {t:'delta', seq, base, len, hunks}
 * (the text as a change of text `base`: route-sync.ts), {t:'noroute', html}, {t:'collect', id, what}, {t:'shutdown', graceMs}.
 * Messages worker → primary: {t:'hello'}, {t:'swapped', seq}, {t:'resync'} (send me the whole text: a delta did
 * not fit the text this worker has), {t:'listening', addrs}, {t:'collected', id, data},
 * {t:'scrape', id}, {t:'fatal', message} (a listener could not start: the whole group exits 1),
 * {t:'line', msg} (a `<PROTO> proxy listening on <addr>` line: the primary prints it once for all
 * workers instead of once per worker).
 * `collect` asks for the worker's prom-client metrics as JSON (what: 'metrics'; 'push': the same
 * with the worker's pid, for the push metrics backends) or its traffic
 * ring buffers (what: 'traffic:<window>'); the primary merges the answers. `scrape` is a worker's
 * proto=prometheus listener asking for the merged exposition, answered with {t:'scraped', id, ...}.
 * The shared outlier ejection (issue #15) adds its own `outlier-*` messages: cluster-outlier.ts.
 */

type ToWorker =
  | RoutesMessage
  | { t: 'noroute'; html: string }
  | { t: 'collect'; id: number; what: Collect }
  | { t: 'scraped'; id: number; contentType: string; body: string; error?: string }
  | { t: 'shutdown'; graceMs: number };
type ToPrimary =
  | { t: 'hello' }
  | { t: 'swapped'; seq: number }
  | { t: 'resync' }
  | { t: 'listening'; addrs: string[] }
  | { t: 'collected'; id: number; data: unknown }
  | { t: 'scrape'; id: number }
  | { t: 'fatal'; message: string }
  | { t: 'line'; msg: string };
type Collect = 'metrics' | 'push' | `traffic:${string}`;

const WORKER_ENV = 'FABIO_TS_WORKER';

/**
 * Node starts a worker as `<execPath> <exec> <args>`. In the single executable (release/, built by
 * scripts/build-binary.mjs) execPath is the executable itself, there is no script to name as `exec`,
 * and the worker sees `<exe> <exe> <exec> <args>`: the primary names this placeholder and the worker
 * drops it (workerArgv), so the worker reads the same flags as the primary.
 */
const SEA_WORKER_EXEC = '--fabio-ts-worker';

/** The command-line arguments of this worker, as the primary received them. */
function workerArgv(): string[] {
  const a = process.argv.slice(2);
  return isSea() && a[0] === SEA_WORKER_EXEC ? a.slice(1) : a;
}

/** The listeners' start line (src/proxy/http, src/proxy/tcp): printed by the primary once per group. */
const LISTENING_LINE = /^[A-Z+-]+ proxy listening on /;

export function isWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

export interface WorkerPool {
  /** Stop every worker: each closes its listeners with graceMs, then exits. */
  close(graceMs: number): Promise<void>;
  /** Prometheus text aggregated over all live workers. */
  metricsText(): Promise<{ contentType: string; body: string }>;
  /** Each live worker's prom-client metrics as JSON, by pid (the push metrics backends take deltas per process). */
  pushSnapshot(): Promise<Source[]>;
  /** Per-route traffic (the admin UI's charts) merged over all live workers. */
  trafficReport(window?: string): Promise<TrafficReport>;
  /** Milliseconds from a route text being sent to the last worker acknowledging its swap (recent samples). */
  propagation(): readonly number[];
  pids(): number[];
}

export interface StartWorkersOptions {
  count: number;
  log: Logger;
  /** Subscribes to table changes of the primary (the route text of each swapped table). */
  /** `edits`: how the text was made from the one before, when known (route-sync.ts sends them as they are). */
  onRoutes(fn: (text: string, edits?: readonly TextEdit[]) => void): void;
  currentRoutes(): string | undefined;
  onNoRouteHtml(fn: (html: string) => void): void;
  currentNoRouteHtml(): string;
  /** Extra environment for the workers (config the primary changed, e.g. -dev listeners, as FABIO_* variables). */
  env?: Record<string, string>;
  /**
   * Called with the pool as soon as the workers are forked, before they all listen: the first
   * worker may already serve traffic then, and /metrics and /api/traffic must include it.
   */
  onForked?: (pool: WorkerPool) => void;
  /** Told which listeners each worker accepts on (and when a worker is gone), for /health. */
  health?: Health;
  /** A worker could not start its listeners: no worker is restarted any more; the caller ends the group. */
  onFatal?: (message: string) => void;
  /**
   * Listens to each forked worker beside this module (its own 'message' listener): the shared
   * outlier ejection (cluster-outlier.ts, issue #15) has its own messages there.
   */
  attach?: (w: Worker) => void;
}

export async function startWorkers(o: StartWorkersOptions): Promise<WorkerPool> {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const exec = isSea() ? SEA_WORKER_EXEC : process.argv[1];
  cluster.setupPrimary({ exec, args: process.argv.slice(2), silent: false });
  let stopping = false;
  let fatalSeen = false;
  // the first text a worker gets is whole (hello, resync); later ones are deltas of the one before
  const sender = new RouteTextSender(o.currentRoutes());
  const acks = new SwapAcks(o.log);
  const workers = new Set<Worker>();

  // A worker that just died may still look connected: the error goes to the callback, not to an
  // 'error' event (the exit handler reports the death).
  const send = (w: Worker, m: ToWorker) => {
    if (w.isConnected()) w.send(m, undefined, undefined, () => {});
  };
  const lines = new StartLines(o.count, o.log);
  let everyoneListened = false;
  const sendFull = (w: Worker) => {
    const m = sender.full();
    if (m !== undefined) send(w, m);
  };

  let listening = 0;
  let resolveFirst: () => void = () => {};
  const allListening = new Promise<void>((r) => {
    resolveFirst = r;
  });

  const collector = new Collector(() => [...workers].filter((w) => w.isConnected()), send);
  const collect = (what: Collect) => collector.collect(what);
  const metricsText = async () => {
    const got = await collect('metrics');
    const reg = AggregatorRegistry.aggregate(got as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: reg.contentType, body: await reg.metrics() };
  };

  const fork = () => {
    const w = cluster.fork({ ...o.env, [WORKER_ENV]: '1' });
    workers.add(w);
    o.attach?.(w);
    w.on('message', (m: ToPrimary) => {
      if (m.t === 'hello' || m.t === 'resync') {
        sendFull(w);
        if (m.t === 'resync') return;
        send(w, { t: 'noroute', html: o.currentNoRouteHtml() });
      } else if (m.t === 'line') {
        lines.reported(m.msg, w.id);
      } else if (m.t === 'fatal') {
        // every worker fails the same way (the same listener cannot bind): one [FATAL] line, the first
        if (fatalSeen) return;
        fatalSeen = true;
        stopping = true;
        o.onFatal?.(m.message);
      } else if (m.t === 'listening') {
        o.health?.serving(w.process.pid ?? -w.id, m.addrs);
        if (everyoneListened) o.log.info(`worker ${w.process.pid} serving`);
        else if (++listening === o.count) resolveFirst();
      } else if (m.t === 'swapped') {
        if (w.process.pid) acks.acked(m.seq, w.process.pid);
      } else if (m.t === 'scrape') {
        metricsText().then(
          (r) => send(w, { t: 'scraped', id: m.id, ...r }),
          (e: unknown) => send(w, { t: 'scraped', id: m.id, contentType: '', body: '', error: String(e) }),
        );
      } else if (m.t === 'collected') {
        collector.answered(m.id, m.data);
      }
    });
    w.on('error', (e) => o.log.error(`worker ${w.process.pid}: ${e.message}`));
    w.on('exit', (code, signal) => {
      workers.delete(w);
      o.health?.stopped(w.process.pid ?? -w.id);
      // a dead worker acknowledges nothing: stop waiting for it (its replacement gets the text on hello)
      if (w.process.pid) acks.gone(w.process.pid);
      if (stopping) return;
      o.log.warn(`worker ${w.process.pid} exited (${signal ?? code}); starting a new one`);
      fork();
    });
  };

  o.onRoutes((text, edits) => {
    const msg = sender.next(text, edits);
    acks.sent(
      msg.seq,
      [...workers].map((w) => w.process.pid ?? 0).filter((pid) => pid !== 0),
    );
    for (const w of workers) send(w, msg);
  });
  o.onNoRouteHtml((html) => {
    for (const w of workers) send(w, { t: 'noroute', html });
  });

  const pool: WorkerPool = {
    pids: () => [...workers].map((w) => w.process.pid ?? 0),
    propagation: () => acks.samples,
    metricsText,
    pushSnapshot: async () => (await collect('push')) as Source[],
    async trafficReport(window) {
      const w = window ?? '';
      return mergeTrafficSnapshots((await collect(`traffic:${w}`)) as TrafficSnapshot[], Date.now, window);
    },
    async close(graceMs) {
      stopping = true;
      await shutdownWorkers([...workers], send, graceMs);
    },
  };
  for (let i = 0; i < o.count; i++) fork();
  o.onForked?.(pool);
  await allListening;
  everyoneListened = true;
  o.log.info(`${o.count} worker processes serving`);
  return pool;
}

/** Worker process: build tables from the primary's route text and serve the listeners. */
export async function runWorker(): Promise<number | undefined> {
  // a -cfg URL was fetched once by the primary (src/runtime/main.ts); the worker reads the same text
  const cfg = loadConfig(workerArgv(), process.env, { cfgText: process.env[CFG_TEXT_ENV] });
  // The primary may be gone at any moment (SIGKILL, or it exits first): a failed send goes to the
  // callback instead of an unhandled 'error' (EPIPE), and 'disconnect' below ends this worker.
  const send = (m: ToPrimary | OutlierToPrimary) => {
    if (process.connected) process.send?.(m, undefined, undefined, () => {});
  };
  const own = createLogger(parseLevel(cfg.str('log.level')) ?? 'INFO');
  const log = {
    ...own,
    info: (msg: string) => (LISTENING_LINE.test(msg) ? send({ t: 'line', msg }) : own.info(msg)),
  };
  const metrics = createPrometheusMetrics(cfg);
  // --- issue #15: ejections shared through the primary (cluster-outlier.ts has the messages) ---
  workerOutlier({
    balancer: balancerFor(cfg),
    metrics,
    send,
  });
  // --- end issue #15 ---
  const store = new TableStore();
  const opts = buildOptionsFrom(cfg);
  let noRouteHtml = '';
  let listeners: RunningListener[] | undefined;
  // proto=prometheus listeners answer with the exposition of all workers, merged by the primary
  const scraper = primaryScraper(send);

  let firstResolve: () => void = () => {};
  const first = new Promise<void>((r) => {
    firstResolve = r;
  });
  // The primary coordinates shutdown; a terminal's Ctrl-C (or hang-up) reaches the whole process group.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGHUP', () => {});
  process.on('disconnect', () => process.exit(0));
  const routes = new RouteTextReceiver();
  process.on('message', (m: ToWorker) => {
    if (m.t === 'routes' || m.t === 'delta') {
      const text = routes.receive(m);
      if (text === 'resync') {
        // keep serving the current table; the whole text follows
        send({ t: 'resync' });
        return;
      }
      if (store.current?.source !== text) {
        try {
          const edit = routes.edit;
          for (const err of store.swap(buildTable(text, opts, store.current, edit && [edit]))) {
            log.error(`table swap subscriber failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        } catch (err) {
          log.warn(String(err instanceof Error ? err.message : err));
        }
      }
      send({ t: 'swapped', seq: m.seq });
      if (store.current) firstResolve();
    } else if (m.t === 'noroute') {
      noRouteHtml = m.html;
    } else if (m.t === 'scraped') {
      scraper.answered(m);
    } else if (m.t === 'collect') {
      answerCollect(m, metrics, send);
    } else if (m.t === 'shutdown') {
      Promise.allSettled((listeners ?? []).map((l) => l.close(m.graceMs))).finally(() => {
        log.flush();
        process.exit(0);
      });
    }
  });
  store.onSwap(afterSwaps((t) => metrics.pruneTargets(t)));
  send({ t: 'hello' });
  await first;
  // compile the incremental build before the first delta arrives (routes/warm.ts)
  if (store.current !== undefined) warmBuilds(store.current, opts, WARM_ROUNDS);
  try {
    listeners = await startDataPlane({
      cfg,
      store,
      log,
      metrics,
      noRouteHtml: () => noRouteHtml,
      prometheus: scraper.scrape,
      rawTcp: rawTcpFromEnv(process.env),
    });
  } catch (err) {
    // The primary logs the [FATAL] line once and ends the group; this worker leaves at once.
    const message = err instanceof Error ? err.message : String(err);
    if (process.connected) {
      await new Promise<void>((r) => process.send?.({ t: 'fatal', message }, undefined, undefined, () => r()));
    }
    own.flush();
    process.exit(1);
  }
  send({ t: 'listening', addrs: listeners.map((l) => l.spec.addr) });
  return undefined;
}

type Scraped = { contentType: string; body: string; error?: string };

/** A worker's proto=prometheus scrape: asks the primary for the merged exposition (5 s deadline). */
function primaryScraper(send: (m: ToPrimary) => void) {
  const scrapes = new Map<number, (r: Scraped) => void>();
  let scrapeId = 0;
  return {
    scrape: () =>
      new Promise<{ contentType: string; body: string }>((resolve, reject) => {
        const id = ++scrapeId;
        const t = setTimeout(() => {
          scrapes.delete(id);
          reject(new Error('no metrics from the primary within 5 s'));
        }, 5000);
        scrapes.set(id, (r) => {
          clearTimeout(t);
          scrapes.delete(id);
          if (r.error !== undefined) reject(new Error(r.error));
          else resolve(r);
        });
        send({ t: 'scrape', id });
      }),
    answered: (m: Scraped & { id: number }) => scrapes.get(m.id)?.(m),
  };
}

/** The primary collects this worker's traffic buffers or prom-client metrics (JSON). */
function answerCollect(
  m: { id: number; what: string },
  metrics: ReturnType<typeof createPrometheusMetrics>,
  send: (m: ToPrimary) => void,
): void {
  if (m.what.startsWith('traffic:')) {
    send({ t: 'collected', id: m.id, data: metrics.traffic.snapshot(m.what.slice(8) || undefined) });
    return;
  }
  metrics.registry
    .getMetricsAsJSON()
    .then((data) =>
      send({ t: 'collected', id: m.id, data: m.what === 'push' ? { id: String(process.pid), metrics: data } : data }),
    )
    .catch(() => send({ t: 'collected', id: m.id, data: [] }));
}

/** Listener start lines: each printed once, when every worker of the group has reported it. */
class StartLines {
  readonly #by = new Map<string, Set<number>>();
  readonly #printed = new Set<string>();
  readonly count: number;
  readonly log: Logger;
  constructor(count: number, log: Logger) {
    this.count = count;
    this.log = log;
  }

  reported(msg: string, workerId: number): void {
    if (this.#printed.has(msg)) return;
    const by = this.#by.get(msg) ?? new Set<number>();
    this.#by.set(msg, by.add(workerId));
    if (by.size < this.count) return;
    this.#printed.add(msg);
    this.#by.delete(msg);
    this.log.info(`${msg} (${this.count} workers)`);
  }
}

/** Route-propagation figures: from a route text being sent to the last live worker's swap acknowledgement. */
class SwapAcks {
  readonly #sentAt = new Map<number, { at: number; pending: Set<number> }>();
  /** Recent samples in milliseconds (the last 1,000). */
  readonly samples: number[] = [];
  readonly log: Logger;
  constructor(log: Logger) {
    this.log = log;
  }

  sent(seq: number, pids: readonly number[]): void {
    this.#sentAt.set(seq, { at: performance.now(), pending: new Set(pids) });
    if (this.#sentAt.size > 100) this.#sentAt.delete(this.#sentAt.keys().next().value as number);
  }

  acked(seq: number, pid: number): void {
    const s = this.#sentAt.get(seq);
    if (!s) return;
    s.pending.delete(pid);
    if (s.pending.size > 0) return;
    const ms = performance.now() - s.at;
    this.samples.push(ms);
    // measurable from outside (bench/cluster-propagation.ts parses it): send → last worker's ack
    this.log.debug(`route table #${seq} live in every worker ${ms.toFixed(2)} ms after it was sent`);
    if (this.samples.length > 1000) this.samples.shift();
    this.#sentAt.delete(seq);
  }

  /** A dead worker acknowledges nothing: stop waiting for it (its replacement gets the text on hello). */
  gone(pid: number): void {
    for (const s of this.#sentAt.values()) s.pending.delete(pid);
  }
}

/** Asks every live worker for something; answers after all replied or 2 s (a stuck worker is left out). */
class Collector {
  readonly #waits = new Map<number, { need: number; got: unknown[]; done: (v: unknown[]) => void }>();
  #id = 0;
  readonly live: () => Worker[];
  readonly send: (w: Worker, m: ToWorker) => void;
  constructor(live: () => Worker[], send: (w: Worker, m: ToWorker) => void) {
    this.live = live;
    this.send = send;
  }

  async collect(what: Collect): Promise<unknown[]> {
    const live = this.live();
    const id = ++this.#id;
    const got = await new Promise<unknown[]>((done) => {
      if (live.length === 0) return done([]);
      this.#waits.set(id, { need: live.length, got: [], done });
      for (const w of live) this.send(w, { t: 'collect', id, what });
      setTimeout(() => done(this.#waits.get(id)?.got ?? []), 2000).unref();
    });
    this.#waits.delete(id);
    return got;
  }

  answered(id: number, data: unknown): void {
    const wait = this.#waits.get(id);
    if (!wait) return;
    wait.got.push(data);
    if (wait.got.length >= wait.need) wait.done(wait.got);
  }
}

/** Asks each worker to close with `graceMs` to drain; one that has not exited 5 s after that is killed. */
async function shutdownWorkers(
  workers: readonly Worker[],
  send: (w: Worker, m: ToWorker) => void,
  graceMs: number,
): Promise<void> {
  const exits = workers.map(
    (w) =>
      new Promise<void>((r) => {
        if (!w.isConnected()) return r();
        w.once('exit', () => r());
        send(w, { t: 'shutdown', graceMs });
        setTimeout(() => w.kill('SIGKILL'), graceMs + 5000).unref();
      }),
  );
  await Promise.all(exits);
}
