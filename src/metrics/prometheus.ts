import { hostname as osHostname } from 'node:os';
import type { Counter, Gauge, Histogram, MetricObjectWithValues, MetricValue } from 'prom-client';
import client from 'prom-client';
import type { Config } from '../config/types.ts';
import { routeAt } from '../routes/index.ts';
import type { Route, Table, Target } from '../routes/types.ts';
import { fullName, namespace, parseBuckets } from './names.ts';
import { TrafficStats } from './traffic.ts';
import type { Metrics } from './types.ts';

/**
 * fabio's metrics (section (h)) on prom-client. Counters keep fabio's names without `_total`
 * (the Prometheus text format of prom-client appends nothing). Label children are cached per
 * Target object so the hot path does one WeakMap read instead of label-map hashing.
 */

type RouteLabels = 'service' | 'host' | 'path' | 'target';

interface TargetChildren {
  readonly labels: Record<RouteLabels, string>;
  readonly route: HistCell;
  readonly rx: ReturnType<Counter<RouteLabels>['labels']>;
  readonly tx: ReturnType<Counter<RouteLabels>['labels']>;
  readonly requests: HistCell;
  readonly status: Map<number, HistCell>;
}

/**
 * prom-client's child observe() re-validates and re-hashes its label set on every call (about 5 %
 * of a proxied request's CPU in a profile, three histograms per request). A cell finds the
 * histogram's value record for its label set once, through a first regular observe(), and then
 * updates that record directly (bucket, sum, count) exactly as prom-client 15 does. When the
 * record is replaced (remove/reset), the next observation falls back to observe() and re-finds it.
 */
class HistCell {
  readonly #hist: Histogram<string>;
  readonly #labels: Record<string, string>;
  readonly #child: { observe(v: number): void };
  readonly #bounds: readonly number[];
  /**
   * The bounds as the property keys of `bucketValues` (String(0.005) is the key a number 0.005
   * becomes): a fractional number as a key sent every store through V8's runtime (3 per request).
   */
  readonly #keys: readonly string[];
  #rec: { labels: unknown; sum: number; count: number; bucketValues: Record<string, number> } | undefined;

  constructor(hist: Histogram<string>, labels: Record<string, string>, bounds: readonly number[]) {
    this.#hist = hist;
    this.#labels = labels;
    this.#child = hist.labels(labels);
    this.#bounds = bounds;
    this.#keys = bounds.map(String);
  }

  observe(v: number): void {
    const r = this.#rec;
    if (r !== undefined && Number.isFinite(v) && this.#live(r)) {
      r.sum += v;
      r.count += 1;
      const b = this.#bounds;
      for (let i = 0; i < b.length; i++) {
        const u = b[i] as number;
        if (v <= u) {
          const k = this.#keys[i] as string;
          r.bucketValues[k] = (r.bucketValues[k] ?? 0) + 1;
          break;
        }
      }
      return;
    }
    this.#child.observe(v);
    this.#rec = undefined;
    const map = (
      this.#hist as unknown as {
        hashMap?: Record<string, { labels: unknown; sum: number; count: number; bucketValues: Record<string, number> }>;
      }
    ).hashMap;
    if (map === undefined) return;
    for (const k in map) {
      const rec = map[k];
      if (rec !== undefined && sameLabels(rec.labels as Record<string, string>, this.#labels)) {
        this.#rec = rec;
        this.#key = k;
        break;
      }
    }
  }

  #key = '';
  #live(r: object): boolean {
    return (this.#hist as unknown as { hashMap: Record<string, object> }).hashMap[this.#key] === r;
  }
}

export interface PrometheusMetrics extends Metrics {
  /** Exposition text of this process. */
  text(): Promise<{ contentType: string; body: string }>;
  /** This process's metrics as JSON, for aggregation in the primary (see mergeMetricsText). */
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  readonly registry: client.Registry;
  /** Per-route ring buffers fed by httpRequest, shown in the admin UI. */
  readonly traffic: TrafficStats;
  /** Metric name prefix (`<ns>_[<subsystem>_]`) actually used. */
  readonly prefix: string;
}

export interface PrometheusOptions {
  hostname?: string;
  exec?: string;
  traffic?: TrafficStats;
  /** Register prom-client's default process/Node metrics (default true). */
  collectDefault?: boolean;
}

export function createPrometheusMetrics(cfg: Config, opts: PrometheusOptions = {}): PrometheusMetrics {
  const ns = namespace(cfg.str('metrics.prefix'), {
    Hostname: opts.hostname ?? osHostname(),
    Exec: opts.exec ?? 'fabio',
  });
  const sub = cfg.str('metrics.prometheus.subsystem');
  const name = (n: string) => fullName(ns, sub, n);
  let buckets = parseBuckets(cfg.str('metrics.prometheus.buckets'));
  if (buckets.length === 0) buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const registry = new client.Registry();
  const { routeHist, rx, tx, retries, ejections, notfound, requests, httpStatus, redirect, ws, tcp, grpc } =
    createInstruments(name, buckets, registry);
  if (opts.collectDefault !== false) client.collectDefaultMetrics({ register: registry });

  const traffic = opts.traffic ?? new TrafficStats();
  let byTarget = new WeakMap<Target, TargetChildren>();
  /** Label sets created so far, by label identity, for pruning. */
  const live = new Map<string, Record<RouteLabels, string>>();

  function children(route: Route, target: Target): TargetChildren {
    let c = byTarget.get(target);
    if (c) return c;
    const labels = { service: target.service, host: route.host, path: route.path, target: target.url };
    live.set(labelId(labels), labels);
    c = {
      labels,
      route: new HistCell(routeHist as Histogram<string>, labels, buckets),
      rx: rx.labels(labels),
      tx: tx.labels(labels),
      requests: new HistCell(requests as Histogram<string>, { service: target.service }, buckets),
      status: new Map(),
    };
    byTarget.set(target, c);
    return c;
  }

  return {
    registry,
    traffic,
    prefix: name('x').slice(0, -1),
    // hot path
    httpRequest(route, target, status, seconds) {
      const c = children(route, target);
      c.route.observe(seconds);
      c.requests.observe(seconds);
      let s = c.status.get(status);
      if (!s) {
        s = new HistCell(httpStatus as Histogram<string>, { code: String(status), service: target.service }, buckets);
        c.status.set(status, s);
      }
      s.observe(seconds);
      traffic.record(route, target, status, seconds);
    },
    notFound: () => notfound.inc(),
    redirect: (code) => redirect.labels({ code: String(code) }).inc(),
    wsConn: (d) => ws.inc(d),
    tcpConn: (k) => tcp[k].conn.inc(),
    tcpConnFail: (k) => tcp[k].fail.inc(),
    tcpNoRoute: (k) => tcp[k].noroute.inc(),
    tcpRefused: (k) => tcp[k].refused.inc(),
    retry: (route, target) => retries.labels(children(route, target).labels).inc(),
    ejection: (route, target) => ejections.labels(children(route, target).labels).inc(),
    grpcConn: () => grpc.conn.inc(),
    grpcNoRoute: () => grpc.noroute.inc(),
    grpcRequest(code, seconds) {
      grpc.requests.observe(seconds);
      grpc.grep.labels({ code }).observe(seconds);
      grpc.status.labels({ code }).observe(seconds);
    },
    grpcRoute(route, target, seconds) {
      children(route, target).route.observe(seconds);
    },
    routeBytes(route, target, r, t) {
      const c = children(route, target);
      if (r > 0) c.rx.inc(r);
      if (t > 0) c.tx.inc(t);
      // one call per ended TCP/SNI connection: the UI's connection count and bytes
      traffic.tcpClose(route, target, t, r);
    },
    tcpRouteOpen: (route, target) => traffic.tcpOpen(route, target),
    tcpRouteFail: (route, target) => traffic.tcpDialFail(route, target),
    pruneTargets(table: Table) {
      // each label set's route looked up (a binary search), not every target of the table walked
      for (const [id, labels] of live) {
        const r = routeAt(table.routes, labels.host, labels.path);
        if (r?.targets.some((t) => t.service === labels.service && t.url === labels.target)) continue;
        routeHist.remove(labels);
        rx.remove(labels);
        tx.remove(labels);
        retries.remove(labels);
        ejections.remove(labels);
        live.delete(id);
      }
      // Children of removed label sets must not be reused; the next request re-creates them.
      byTarget = new WeakMap();
      traffic.prune(table);
    },
    async text() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    metricsJson: () => registry.getMetricsAsJSON(),
  };
}

/** Every fabio metric, registered in `registry` and set to 0 where fabio reports a 0 before use. */
function createInstruments(name: (n: string) => string, buckets: number[], registry: client.Registry) {
  const registers = [registry];
  const routeLabels: RouteLabels[] = ['service', 'host', 'path', 'target'];
  const counter = (n: string, help: string, labelNames: string[] = []) =>
    new client.Counter({ name: name(n), help, labelNames, registers });
  const histogram = (n: string, help: string, labelNames: string[] = []) =>
    new client.Histogram({ name: name(n), help, labelNames, buckets, registers });
  const connCounters = (k: 'tcp' | 'tcp_sni', what: string) => ({
    conn: counter(`${k}.conn`, `${what} connections proxied.`),
    fail: counter(`${k}.connfail`, `${what} upstream connection failures.`),
    noroute: counter(`${k}.noroute`, `${what} connections without a route.`),
    refused: counter(
      `${k}.refused`,
      `${what} connections closed at accept: the listener had proxy.listener.maxconn open.`,
    ),
  });
  const m = {
    routeHist: histogram('route', 'Proxied HTTP requests per route target (seconds).', routeLabels),
    rx: counter('route.rx', 'TCP bytes upstream to client per route target.', routeLabels),
    tx: counter('route.tx', 'TCP bytes client to upstream per route target.', routeLabels),
    retries: counter(
      'route.retry',
      'HTTP requests sent again to another target after this route target failed (fabio-ts).',
      routeLabels,
    ),
    ejections: counter(
      'route.ejection',
      'Ejections of this route target by passive outlier detection (fabio-ts).',
      routeLabels,
    ),
    notfound: counter('notfound', 'Requests and connections without a route.'),
    requests: histogram('requests', 'Proxied HTTP requests per service (seconds).', ['service']),
    httpStatus: histogram('http.status', 'HTTP responses per status code (seconds).', ['code', 'service']),
    redirect: counter('http.redirect.count', 'Redirects per status code.', ['code']),
    ws: new client.Gauge({ name: name('ws.conn'), help: 'Open websocket tunnels.', registers }) as Gauge,
    tcp: { tcp: connCounters('tcp', 'TCP'), tcp_sni: connCounters('tcp_sni', 'TCP+SNI') },
    // gRPC (fabio names): `grep.status` is fabio's typo for `grpc.status`, kept for existing dashboards;
    // `grpc.status` beside it carries the same observations under the evident name.
    grpc: {
      conn: counter('grpc.conn', 'gRPC client connections accepted.'),
      noroute: counter('grpc.noroute', 'gRPC streams without a route.'),
      requests: histogram('grpc.requests', 'gRPC calls (seconds).'),
      grep: histogram('grep.status', 'gRPC calls per status code (seconds); fabio spells it grep.status.', ['code']),
      status: histogram('grpc.status', 'gRPC calls per status code (seconds).', ['code']),
    },
  };
  m.grpc.conn.inc(0);
  m.grpc.noroute.inc(0);
  m.ws.set(0);
  m.notfound.inc(0);
  for (const k of ['tcp', 'tcp_sni'] as const) for (const c of Object.values(m.tcp[k])) c.inc(0);
  return m;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return Object.keys(a).length === n;
}

function labelId(l: Record<RouteLabels, string>): string {
  return `${l.service}\u0000${l.host}\u0000${l.path}\u0000${l.target}`;
}

/**
 * Merges the metricsJson() of several processes (primary + workers) into one exposition:
 * counters and histograms are summed, default process metrics aggregated as prom-client defines.
 */
export async function mergeMetricsText(
  jsons: readonly MetricObjectWithValues<MetricValue<string>>[][],
): Promise<{ contentType: string; body: string }> {
  const reg = client.AggregatorRegistry.aggregate(jsons as MetricObjectWithValues<MetricValue<string>>[][]);
  return { contentType: reg.contentType, body: await reg.metrics() };
}
