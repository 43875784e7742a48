import net from 'node:net';
import type { Config, ListenerSpec } from '../../../src/config/types.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import type { Metrics } from '../../../src/metrics/types.ts';
import { rawTcpFromEnv } from '../../../src/proxy/tcp/raw-handle.ts';
import type { ProxyDeps } from '../../../src/proxy/types.ts';
import { TableStore } from '../../../src/routes/table-store.ts';
import type { AccessRules, LookupResult, Route, Table, Target } from '../../../src/routes/types.ts';

/** A minimal Table for the TCP listeners: exact keys only, as lookupTcp is specified. */
export interface FakeTarget {
  url: string;
  proxyProto?: boolean;
  accessRules?: AccessRules;
  opts?: Record<string, string>;
}

export function fakeTable(routes: Record<string, FakeTarget[]>): Table {
  const all: Route[] = [];
  const byKey = new Map<string, LookupResult>();
  for (const [host, ts] of Object.entries(routes)) {
    const targets = ts.map((t) => fakeTarget(t));
    const route: Route = { host, path: '/', targets };
    all.push(route);
    if (targets.length > 0) byKey.set(host.toLowerCase(), { route, target: targets[0]! });
  }
  return {
    source: JSON.stringify(routes),
    warnings: [],
    routes: all,
    lookup: () => undefined,
    lookupTcp: (k) => byKey.get(k.toLowerCase()),
    explain: (req) => ({ request: req, steps: [], result: undefined }),
    print: () => '',
    dump: () => '',
  };
}

function fakeTarget(t: FakeTarget): Target {
  const u = new URL(t.url);
  return {
    service: 'svc',
    url: t.url,
    scheme: u.protocol.slice(0, -1),
    hostPort: u.host,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port),
    urlPath: u.pathname,
    urlQuery: '',
    tags: [],
    opts: t.opts ?? {},
    stripPath: '',
    prependPath: '',
    host: '',
    authScheme: '',
    redirectCode: 0,
    redirectURL: '',
    fixedWeight: 0,
    weight: 1,
    tlsSkipVerify: false,
    proxyProto: t.proxyProto ?? false,
    accessRules: t.accessRules,
    key: `svc\u0000${t.url}`,
  };
}

export function fakeConfig(nums: Record<string, number> = {}, strs: Record<string, string> = {}): Config {
  const n: Record<string, number> = {
    'proxy.dialtimeout': 2000,
    'proxy.keepalivetimeout': 0,
    'proxy.lingertimeout': 5000,
    ...nums,
  };
  return {
    str: (k) => strs[k] ?? '',
    num: (k) => n[k] ?? 0,
    bool: () => false,
    values: {},
    listeners: [],
    ui: spec(),
    certSources: new Map(),
    authSchemes: new Map(),
    unsupported: [],
    warnings: [],
  };
}

export function spec(over: Partial<ListenerSpec> = {}): ListenerSpec {
  return {
    addr: '127.0.0.1:0',
    host: '127.0.0.1',
    port: 0,
    proto: 'tcp',
    cs: '',
    readTimeout: 0,
    writeTimeout: 0,
    idleTimeout: 0,
    strictMatch: false,
    tlsMin: undefined,
    tlsMax: undefined,
    tlsCiphers: [],
    proxyProto: false,
    proxyProtoTimeout: 250,
    refresh: 0,
    ...over,
  };
}

export type Counted = Metrics & { counts: Record<string, number>; bytes: { rx: number; tx: number; key: string }[] };

export function countingMetrics(): Counted {
  const counts: Record<string, number> = {};
  const inc = (k: string) => void (counts[k] = (counts[k] ?? 0) + 1);
  const bytes: { rx: number; tx: number; key: string }[] = [];
  return {
    counts,
    bytes,
    httpRequest() {},
    redirect() {},
    wsConn() {},
    pruneTargets() {},
    notFound: () => inc('notfound'),
    tcpConn: (k) => inc(`${k}.conn`),
    tcpConnFail: (k) => inc(`${k}.connfail`),
    tcpNoRoute: (k) => inc(`${k}.noroute`),
    tcpRefused: (k) => inc(`${k}.refused`),
    routeBytes: (_r, t, rx, tx) => void bytes.push({ rx, tx, key: t.key }),
  };
}

export function makeDeps(
  table: Table | undefined,
  cfgNums: Record<string, number> = {},
  cfgStrs: Record<string, string> = {},
) {
  const store = new TableStore();
  if (table) store.swap(table);
  const log = memoryLogger('TRACE');
  const metrics = countingMetrics();
  const deps: ProxyDeps = {
    cfg: fakeConfig(cfgNums, cfgStrs),
    store,
    log,
    metrics,
    noRouteHtml: () => '',
    accessLog: undefined,
    // as the runtime does at start-up: the bare-handle path unless FABIO_TS_RAW_TCP=0
    rawTcp: rawTcpFromEnv(process.env),
  };
  return { deps, store, log, metrics };
}

/** The same deps with the TCP listeners on the bare-handle path ('raw', when available) or on net.Socket. */
export function inMode(deps: ProxyDeps, mode: 'raw' | 'net'): ProxyDeps {
  return { ...deps, rawTcp: mode === 'raw' ? rawTcpFromEnv(process.env) : undefined };
}

/** An echo server (optionally prefixing replies) that records what each connection sent. */
export async function echoServer(opts: { halfOpen?: boolean } = {}) {
  const received: Buffer[] = [];
  const socks = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: opts.halfOpen ?? false }, (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.on('error', () => {});
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => received.push(Buffer.concat(chunks)));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of socks) s.destroy();
      }),
  };
}

/** Connects, writes `data`, half-closes, and resolves with everything read until the peer closed. */
export function roundTrip(
  port: number,
  data: string | Buffer,
  timeoutMs = 3000,
): Promise<{ data: Buffer; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(data));
    s.setTimeout(timeoutMs, () => s.destroy(new Error('test timeout')));
    let err: Error | undefined;
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => (err = e));
    s.on('close', () => resolve({ data: Buffer.concat(chunks), error: err }));
  });
}

/** Polls `fn` until it returns true or the deadline passes. */
export async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
