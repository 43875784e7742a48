import { availableParallelism } from 'node:os';
import { configJson, parseListeners } from '../config/index.ts';
import { KEY_BY_NAME } from '../config/keys.ts';
import type { Config } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { fdSink } from '../log/logger.ts';
import { createPrometheusMetrics } from '../metrics/prometheus.ts';
import { startListeners } from '../proxy/listeners.ts';
import type { RunningListener } from '../proxy/types.ts';
import { startDemoService, startDevCatalog } from '../registry/dev-catalog/index.ts';
import { createBackend } from '../registry/index.ts';
import type { RegistryBackend } from '../registry/types.ts';
import { buildTable } from '../routes/index.ts';
import { TableStore } from '../routes/table-store.ts';
import type { BuildOptions, Matcher, Strategy, Table } from '../routes/types.ts';
import { startAdmin } from '../ui/index.ts';
import { versionString } from '../version.ts';
import { startWorkers, type WorkerPool } from './cluster.ts';
import { withOverrides } from './config-overrides.ts';
import { installSignals } from './signals.ts';
import { TableUpdater } from './table-updater.ts';

/** Listeners of -dev when proxy.addr is not set. */
export const DEV_LISTENERS = ':9999;proto=http,:9997;proto=tcp,:9996;proto=tcp+sni';

/** Route build options from the configuration (shared by the primary and every worker). */
export function buildOptionsFrom(cfg: Config): BuildOptions {
  return {
    matcher: cfg.str('proxy.matcher') as Matcher,
    strategy: cfg.str('proxy.strategy') as Strategy,
    globDisabled: cfg.bool('glob.matching.disabled'),
    globCacheSize: cfg.num('glob.cache.size'),
    counters: new Map(),
    // one bad tag or KV line costs that line, not every later update (docs/compat-routes.md)
    skipBadLines: true,
  };
}

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

/**
 * Runs the proxy: registry → table updater → store → listeners, plus the admin server. With more
 * than one worker the listeners run in worker processes (src/runtime/cluster.ts) and this process
 * is the primary: it watches the registry once and sends each route text to every worker.
 */
export async function serve(userCfg: Config, log: Logger): Promise<number | undefined> {
  for (const w of userCfg.warnings) log.warn(w);
  for (const k of userCfg.unsupported) log.warn(`${k} is not supported by fabio-ts and is ignored`);

  let cfg = userCfg;
  let dev: Awaited<ReturnType<typeof startDevCatalog>> | undefined;
  if (cfg.bool('dev')) {
    const [host = '127.0.0.1', port = '8500'] = splitHostPort(cfg.str('dev.addr'));
    dev = await startDevCatalog({ host, port: Number(port), log });
    log.info(
      `dev: embedded Consul-compatible catalog on ${dev.url} (in memory only, for development and tests; production uses Consul)`,
    );
    cfg = withOverrides(cfg, {
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
  }

  log.info(`Runtime config\n${JSON.stringify(redactedConfig(cfg), null, '    ')}`);
  log.info(`Using routing strategy "${cfg.str('proxy.strategy')}"`);
  log.info(`Using route matching "${cfg.str('proxy.matcher')}"`);

  const metrics = createPrometheusMetrics(cfg);
  const store = new TableStore();
  const buildOpts = buildOptionsFrom(cfg);
  const fmt = cfg.str('log.routes.format');
  const updater = new TableUpdater({
    store,
    log,
    build: (text, prev) => buildTable(text, buildOpts, prev),
    routesFormat: fmt === 'all' || fmt === 'detail' ? fmt : 'delta',
  });
  let noRouteHtml = '';
  const noRouteSubs: ((html: string) => void)[] = [];

  let backend: RegistryBackend;
  try {
    backend = createBackend(cfg, log);
    await backend.connect();
  } catch (err) {
    log.fatal(err instanceof Error ? err.message : String(err));
    log.flush();
    await dev?.close();
    return 1;
  }

  const workers = workerCount(cfg);
  let pool: WorkerPool | undefined;
  let adminTls: Parameters<typeof startAdmin>[0]['tls'];
  if (cfg.ui.cs) {
    // ui.addr with cs=: the admin port terminates TLS with that certificate source (fabio does the same).
    const tlsMod = await import('../proxy/tls/index.ts');
    const source = cfg.certSources.get(cfg.ui.cs);
    if (!source) throw new Error(`unknown certificate source "${cfg.ui.cs}"`);
    const store = await tlsMod.createCertStore(source, log);
    adminTls = tlsMod.createTlsTermination(cfg.ui, store, { alpn: ['http/1.1'] }).serverOptions();
  }
  const admin = await startAdmin({
    tls: adminTls,
    cfg,
    store,
    log,
    version: versionString(),
    updater,
    manual: backend.manual,
    // With workers, traffic metrics live in the workers: aggregate them on each scrape.
    metricsText: () => (pool ? pool.metricsText() : metrics.text()),
    traffic: { report: (w) => (pool ? pool.trafficReport(w) : metrics.traffic.report(w)) },
    configJson: () => redactedConfig(cfg),
    // Overrides what-if: own counters, so building a preview never prunes the live round-robin state
    build: (text) => buildTable(text, { ...buildOpts, counters: new Map() }),
  });

  let aliases = '';
  store.onSwap((t) => {
    metrics.pruneTargets(t);
    const a = registerAliases(t);
    if (a.join(',') !== aliases) {
      aliases = a.join(',');
      backend.register(a).catch((e: unknown) => log.error(`consul: cannot register aliases. ${String(e)}`));
    }
  });
  backend.watch({
    routes: (u) => updater.update(u),
    noRouteHtml: (html) => {
      noRouteHtml = html;
      for (const fn of noRouteSubs) fn(html);
    },
  });
  await backend.register([]).catch((e: unknown) => log.error(`consul: cannot register fabio. ${String(e)}`));

  const demo = dev ? await startDemoService({ catalogUrl: dev.url }) : undefined;

  log.info('Waiting for first routing table');
  await updater.firstTable;

  let listeners: { close(graceMs: number): Promise<void> }[];
  if (workers > 1) {
    pool = await startWorkers({
      count: workers,
      log,
      onRoutes: (fn) => store.onSwap((t) => fn(t.source)),
      currentRoutes: () => store.current?.source,
      onNoRouteHtml: (fn) => noRouteSubs.push(fn),
      currentNoRouteHtml: () => noRouteHtml,
      env: cfg.str('proxy.addr') === userCfg.str('proxy.addr') ? {} : { FABIO_proxy_addr: cfg.str('proxy.addr') },
      // the admin server merges the workers' metrics from the first fork on, not only once all listen
      onForked: (p) => {
        pool = p;
      },
    });
    listeners = [pool];
  } else {
    const accessSink = cfg.str('log.access.target') === 'stdout' ? fdSink(1) : undefined;
    const running: RunningListener[] = await startListeners({
      cfg,
      store,
      log,
      metrics,
      noRouteHtml: () => noRouteHtml,
      accessLog: accessSink ? (line: string) => accessSink.write(line) : undefined,
      prometheus: () => metrics.text(),
    });
    listeners = running;
  }

  installSignals(log, async () => {
    await backend.deregister().catch((e: unknown) => log.error(`consul: cannot deregister. ${String(e)}`));
    const grace = cfg.num('proxy.deregistergraceperiod');
    if (grace > 0) await new Promise((r) => setTimeout(r, grace));
    const wait = cfg.num('proxy.shutdownwait');
    await Promise.allSettled(listeners.map((l) => l.close(wait)));
    await admin.close(wait);
    await demo?.close();
    await backend.stop();
    await dev?.close();
  });
  return undefined;
}

function splitHostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  if (i < 0) return [addr, '8500'];
  return [addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', addr.slice(i + 1)];
}
