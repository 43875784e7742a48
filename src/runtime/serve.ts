import { availableParallelism } from 'node:os';
import { configJson, parseListeners } from '../config/index.ts';
import { KEY_BY_NAME } from '../config/keys.ts';
import type { Config } from '../config/types.ts';
import { trySplitHostPort } from '../go/host-port.ts';
import type { Logger } from '../log/logger.ts';
import { createPrometheusMetrics } from '../metrics/prometheus.ts';
import { type Pusher, startPush } from '../metrics/push.ts';
import { afterSwaps } from '../proxy/after-swaps.ts';
import { balancerFor } from '../proxy/outlier/balancer.ts';
import { rawTcpFromEnv } from '../proxy/tcp/raw-handle.ts';
import type { RunningListener } from '../proxy/types.ts';
import { type DemoService, type DevCatalog, startDemoService, startDevCatalog } from '../registry/dev-catalog/index.ts';
import { createBackend } from '../registry/index.ts';
import type { RegistryBackend } from '../registry/types.ts';
import { buildTable, type TextEdit, WARM_ROUNDS, warmBuilds } from '../routes/index.ts';
import { TableStore } from '../routes/table-store.ts';
import type { Table } from '../routes/types.ts';
import { type RunningAdmin, startAdmin } from '../ui/index.ts';
import { versionString } from '../version.ts';
import { startWorkers, type WorkerPool } from './cluster.ts';
import { primaryOutlier } from './cluster-outlier.ts';
import { withOverrides } from './config-overrides.ts';
import { buildOptionsFrom, startDataPlane } from './data-plane.ts';
import { Health } from './health.ts';
import { listenFailure, listenReason } from './listen-error.ts';
import { recordEjections } from './outlier-history.ts';
import { installLifecycle, type Lifecycle } from './signals.ts';
import { TableUpdater } from './table-updater.ts';

/** Listeners of -dev when proxy.addr is not set. */
export const DEV_LISTENERS = ':9999;proto=http,:9997;proto=tcp,:9996;proto=tcp+sni';

/** Names fabio-ts registers as aliases: every `register=<name>` route option of the table. */
export function registerAliases(t: Table): string[] {
  const names = new Set<string>();
  for (const r of t.routes) for (const tg of r.targets) if (tg.opts.register) names.add(tg.opts.register);
  return [...names].sort();
}

/** How many worker processes serve the listeners (proxy.workers; 0 = one per available CPU). */
export function workerCount(cfg: Config): number {
  const n = cfg.num('proxy.workers');
  return n > 0 ? n : availableParallelism();
}

/** A printable copy of the configuration with secrets masked (fabio logs the Consul token; we do not). */
function redactedConfig(cfg: Config): unknown {
  return JSON.parse(JSON.stringify(configJson(cfg), (k, v) => (/token|password|apikey/i.test(k) && v ? '***' : v)));
}

/** What start-up has started so far (the shutdown stops these). */
interface Started {
  dev?: DevCatalog;
  backend?: RegistryBackend;
  admin?: RunningAdmin;
  demo?: DemoService;
  pool?: WorkerPool;
  push?: Pusher;
  listeners?: Promise<RunningListener[]>;
  health?: Health;
  /** The configuration after -dev's overrides. */
  cfg: Config;
}

/**
 * Runs the proxy: registry → table updater → store → listeners, plus the admin server. With more
 * than one worker the listeners run in worker processes (src/runtime/cluster.ts) and this process
 * is the primary: it watches the registry once and sends each route text to every worker.
 */
export async function serve(userCfg: Config, log: Logger): Promise<number | undefined> {
  // Everything started so far, for the shutdown; filled in as start-up goes on.
  const up: Started = { cfg: userCfg };
  const life = installLifecycle(log, {
    async shutdown(mode) {
      const cfg = up.cfg;
      await up.backend?.deregister().catch((e: unknown) => log.error(`consul: cannot deregister. ${String(e)}`));
      up.push?.close();
      const grace = mode === 'signal' ? cfg.num('proxy.deregistergraceperiod') : 0;
      if (grace > 0) await new Promise((r) => setTimeout(r, grace));
      const wait = mode === 'signal' ? cfg.num('proxy.shutdownwait') : 0;
      up.health?.stoppedAll();
      const listeners = (await up.listeners?.catch(() => [])) ?? [];
      await Promise.allSettled([...listeners.map((l) => l.close(wait)), up.pool?.close(wait)]);
      await up.admin?.close(wait);
      await up.demo?.close();
      await up.backend?.stop();
      await up.dev?.close();
    },
  });
  log.info(`Version ${versionString()} starting`);
  log.info(`Node runtime is ${process.version}`);
  try {
    await start(userCfg, log, life, up);
  } catch (err) {
    // Anything that fails while starting ends the process the way fabio's exit.Fatal does.
    if (!life.stopping) life.fatal(err instanceof Error ? err.message : String(err));
  }
  return undefined;
}

/**
 * -dev: starts the embedded catalog (on -dev.addr) and points the registry at it; left at fabio's
 * default, proxy.addr becomes the walkthrough's three listeners. undefined: start-up ended (a fatal
 * error was reported, or a signal came meanwhile).
 */
async function startDevMode(userCfg: Config, log: Logger, life: Lifecycle, up: Started): Promise<Config | undefined> {
  // -dev.addr: `host:port`; a missing host is 127.0.0.1, a missing port 8500 (Consul's)
  const devAddr = userCfg.str('dev.addr');
  const hp = trySplitHostPort(devAddr) ?? { host: devAddr, port: '8500' };
  const host = hp.host || '127.0.0.1';
  const port = hp.port;
  try {
    up.dev = await startDevCatalog({ host, port: Number(port), log });
  } catch (err) {
    life.fatal(
      `dev: the embedded catalog cannot listen on ${devAddr}: ${listenReason(err)} (choose another address with -dev.addr)`,
    );
    return undefined;
  }
  const dev = up.dev;
  if (life.stopping) return undefined;
  log.info(
    `dev: embedded Consul-compatible catalog on ${dev.url} (in memory only, for development and tests; production uses Consul)`,
  );
  let cfg = withOverrides(userCfg, {
    'registry.backend': 'consul',
    'registry.consul.addr': dev.url,
  });
  // Left at fabio's default, -dev opens the three listeners of the walkthrough (HTTP, TCP by port,
  // TLS passthrough by SNI) so every cookbook recipe works right after `npm start`.
  if (cfg.str('proxy.addr') === KEY_BY_NAME.get('proxy.addr')?.def) {
    const addr = DEV_LISTENERS;
    cfg = {
      ...withOverrides(cfg, { 'proxy.addr': addr }),
      listeners: parseListeners(addr, {
        readTimeout: cfg.num('proxy.readtimeout'),
        writeTimeout: cfg.num('proxy.writetimeout'),
        certSources: cfg.certSources,
      }),
    };
  }
  return cfg;
}

/** ui.addr with cs=: the admin port terminates TLS with that certificate source (fabio does the same). */
async function adminTlsOptions(cfg: Config, log: Logger): Promise<Parameters<typeof startAdmin>[0]['tls']> {
  const tlsMod = await import('../proxy/tls/index.ts');
  const source = cfg.certSources.get(cfg.ui.cs);
  if (!source) throw new Error(`unknown certificate source "${cfg.ui.cs}"`);
  const store = await tlsMod.createCertStore(source, log);
  return tlsMod.createTlsTermination(cfg.ui, store, { alpn: ['http/1.1'] }).serverOptions();
}

/** Creates and connects the registry backend; undefined when that failed (reported) or a signal came. */
async function connectBackend(
  cfg: Config,
  log: Logger,
  life: Lifecycle,
  up: Started,
): Promise<RegistryBackend | undefined> {
  try {
    const backend = createBackend(cfg, log);
    up.backend = backend;
    await backend.connect();
    return backend;
  } catch (err) {
    if (!life.stopping) life.fatal(err instanceof Error ? err.message : String(err));
    return undefined;
  }
}

/**
 * Registers the `register=` aliases of the live table (fabio's self-registration). The walk over
 * every target runs after a burst of swaps (afterSwaps), not on each one, and not at all without
 * self-registration.
 */
function followAliases(store: TableStore, backend: RegistryBackend, log: Logger, enabled: boolean): void {
  if (!enabled) return;
  let aliases = '';
  store.onSwap(
    afterSwaps((t) => {
      const a = registerAliases(t);
      if (a.join(',') === aliases) return;
      aliases = a.join(',');
      backend.register(a).catch((e: unknown) => log.error(`consul: cannot register aliases. ${String(e)}`));
    }),
  );
}

/** The parts of the primary the admin server reads. */
interface AdminParts {
  readonly cfg: Config;
  readonly log: Logger;
  readonly store: TableStore;
  readonly updater: TableUpdater;
  readonly backend: RegistryBackend;
  readonly metrics: ReturnType<typeof createPrometheusMetrics>;
  readonly health: Health;
  readonly buildOpts: ReturnType<typeof buildOptionsFrom>;
  readonly up: Started;
}

function adminOptions(p: AdminParts, tls: Parameters<typeof startAdmin>[0]['tls']): Parameters<typeof startAdmin>[0] {
  const { cfg, log, store, updater, backend, metrics, health, buildOpts, up } = p;
  return {
    tls,
    cfg,
    store,
    log,
    version: versionString(),
    updater,
    manual: backend.manual,
    // With workers, traffic metrics live in the workers: aggregate them on each scrape.
    metricsText: () => (up.pool ? up.pool.metricsText() : metrics.text()),
    traffic: { report: (w) => (up.pool ? up.pool.trafficReport(w) : metrics.traffic.report(w)) },
    configJson: () => redactedConfig(cfg),
    health: () => health.reason(),
    // Overrides what-if: own counters, so building a preview never prunes the live round-robin state
    build: (text) => buildTable(text, { ...buildOpts, counters: new Map() }),
  };
}

/**
 * Push backends (graphite, statsd_raw, dogstatsd, flat, label) read the registries of every
 * process from here, the primary: one sender per target, nothing counted twice (docs/design.md).
 * False when the configuration was refused (fatal already reported).
 */
function startPushBackends(
  cfg: Config,
  log: Logger,
  life: Lifecycle,
  up: Started,
  metrics: ReturnType<typeof createPrometheusMetrics>,
): boolean {
  try {
    up.push = startPush({
      cfg,
      log,
      snapshot: async () =>
        up.pool ? up.pool.pushSnapshot() : [{ id: String(process.pid), metrics: await metrics.metricsJson() }],
    });
    return true;
  } catch (err) {
    life.fatal(err instanceof Error ? err.message : String(err));
    return false;
  }
}

/** Start-up in fabio's order; gives up quietly when a signal or a fatal error ended it meanwhile. */
async function start(userCfg: Config, log: Logger, life: Lifecycle, up: Started): Promise<void> {
  for (const w of userCfg.warnings) log.warn(w);
  for (const k of userCfg.unsupported) log.warn(`${k} is not supported by fabio-ts and is ignored`);

  const cfg = userCfg.bool('dev') ? await startDevMode(userCfg, log, life, up) : userCfg;
  if (cfg === undefined) return;
  up.cfg = cfg;
  const dev = up.dev;

  log.info(`Runtime config\n${JSON.stringify(redactedConfig(cfg), null, '    ')}`);
  log.info(`Using routing strategy "${cfg.str('proxy.strategy')}"`);
  log.info(`Using route matching "${cfg.str('proxy.matcher')}"`);

  const metrics = createPrometheusMetrics(cfg);
  const store = new TableStore();
  const buildOpts = buildOptionsFrom(cfg);
  const fmt = cfg.str('log.routes.format');
  /** The last build's text and the edits it was built from (sent on to the workers). */
  let built: { text: string; edits: readonly TextEdit[] | undefined } | undefined;
  const updater = new TableUpdater({
    store,
    log,
    build: (text, prev, edits) => {
      built = { text, edits };
      return buildTable(text, buildOpts, prev, edits);
    },
    routesFormat: fmt === 'all' || fmt === 'detail' ? fmt : 'delta',
  });
  // Ejections and returns go to the history (issue #15). This process's balancer decides them:
  // the listeners' own in a single process, the group's with workers (cluster-outlier.ts).
  const balancer = balancerFor(cfg);
  recordEjections(balancer, (e) => updater.note(e));
  let noRouteHtml = '';
  const noRouteSubs: ((html: string) => void)[] = [];
  const health = new Health(cfg.listeners.map((l) => l.addr));
  up.health = health;

  if (!startPushBackends(cfg, log, life, up, metrics)) return;

  const backend = await connectBackend(cfg, log, life, up);
  if (backend === undefined || life.stopping) return;

  const workers = workerCount(cfg);
  const adminTls = cfg.ui.cs ? await adminTlsOptions(cfg, log) : undefined;
  try {
    up.admin = await startAdmin(
      adminOptions({ cfg, log, store, updater, backend, metrics, health, buildOpts, up }, adminTls),
    );
  } catch (err) {
    if (!life.stopping) life.fatal(listenFailure(err, [cfg.ui], 'Admin server'));
    return;
  }
  if (life.stopping) return;

  const prune = afterSwaps((t) => metrics.pruneTargets(t));
  store.onSwap((t) => {
    health.tableReady();
    prune(t);
  });
  followAliases(store, backend, log, cfg.bool('registry.consul.register.enabled'));
  backend.watch({
    routes: (u) => updater.update(u),
    noRouteHtml: (html) => {
      noRouteHtml = html;
      for (const fn of noRouteSubs) fn(html);
    },
  });
  await backend.register([]).catch((e: unknown) => log.error(`consul: cannot register fabio. ${String(e)}`));
  if (life.stopping) return;

  up.demo = dev ? await startDemoService({ catalogUrl: dev.url }) : undefined;
  if (life.stopping) return;

  log.info('Waiting for first routing table');
  await updater.firstTable;
  if (life.stopping) return;
  // the incremental build runs compiled from the first catalog change on (routes/warm.ts)
  if (store.current !== undefined) warmBuilds(store.current, buildOpts, WARM_ROUNDS);

  if (workers > 1) {
    await startWorkers({
      count: workers,
      log,
      // the edits the table was built from go to the workers as they are (route-sync.ts)
      onRoutes: (fn) =>
        store.onSwap((t) => fn(t.source, built?.text === t.source ? built.edits : undefined), { first: true }),
      currentRoutes: () => store.current?.source,
      onNoRouteHtml: (fn) => noRouteSubs.push(fn),
      currentNoRouteHtml: () => noRouteHtml,
      env: cfg.str('proxy.addr') === userCfg.str('proxy.addr') ? {} : { FABIO_proxy_addr: cfg.str('proxy.addr') },
      // the admin server merges the workers' metrics from the first fork on, not only once all listen;
      // the shutdown stops workers that are still starting
      onForked: (p) => {
        up.pool = p;
      },
      health,
      onFatal: (message) => life.fatal(message),
      attach: primaryOutlier({ balancer, store, log }).attach,
    });
  } else {
    up.listeners = startDataPlane({
      rawTcp: rawTcpFromEnv(process.env),
      cfg,
      store,
      log,
      metrics,
      noRouteHtml: () => noRouteHtml,
      prometheus: () => metrics.text(),
    });
    let running: RunningListener[];
    try {
      running = await up.listeners;
    } catch (err) {
      if (!life.stopping) life.fatal(err instanceof Error ? err.message : String(err));
      return;
    }
    const addrs = running.map((l) => l.spec.addr);
    if (!life.stopping) health.serving(0, addrs);
  }
}
