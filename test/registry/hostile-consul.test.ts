import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import { backoffMs } from '../../src/registry/consul/blocking.ts';
import {
  ConsulBodyTooLargeError,
  ConsulClient,
  ConsulTimeoutError,
  ReceiveBuffers,
} from '../../src/registry/consul/client.ts';
import { healthyServices } from '../../src/registry/consul/health-filter.ts';
import { HealthState } from '../../src/registry/consul/health-state.ts';
import { ignoredSiblings, kvEntries } from '../../src/registry/consul/kv.ts';
import { translateRows } from '../../src/registry/consul/route-lines.ts';
import { healthEntries } from '../../src/registry/consul/service-watch.ts';
import type { RouteTextUpdate } from '../../src/registry/types.ts';
import { check, row, serf, until } from './fake-consul.ts';

/**
 * Consul answers as untrusted input: a scripted Consul (an http server in the test whose health
 * answers a script decides) sends malformed entries, endless and trickling bodies, bad indexes,
 * early answers, 500s and resets. The backend must keep the last good routes, apply every real
 * health change once a good answer arrives, bound its request rate, and log one line per episode.
 */

type T = { after(fn: () => unknown): void };

interface HealthReq {
  readonly index: number | undefined;
  readonly at: number;
}

type HealthScript = (req: HealthReq, res: ServerResponse, n: number) => void | Promise<void>;

const WEB = ['urlprefix-/web'];
const API = ['urlprefix-/api'];
const WEB_ROUTE = 'route add web /web http://10.0.0.5:8080/';
const API_ROUTE = 'route add api /api http://10.0.0.6:8080/';

class ScriptedConsul {
  /** The state a well-behaved Consul serves: blocking reads at or above `index` wait for wake(). */
  index = 10;
  checks: unknown[] = [serf('n1'), check('n1', 'web-1', 'web', WEB, 'passing')];
  /** Health answers; the default behaves like Consul. Tests replace it with misbehaviour. */
  health: HealthScript = (r, res) => this.serve(r, res);
  readonly catalog = new Map<string, unknown[]>([
    ['web', [row('n1', 'web-1', 'web', WEB, '10.0.0.5', 8080)]],
    ['api', [row('n1', 'api-1', 'api', API, '10.0.0.6', 8080)]],
  ]);
  readonly healthReqs: HealthReq[] = [];
  readonly #server = createServer((req, res) => void this.#handle(req, res));
  readonly #parked = new Map<ServerResponse, HealthReq | undefined>();
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  json(res: ServerResponse, value: unknown, index: number | string): void {
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(index) });
    res.end(JSON.stringify(value));
  }

  /** Consul's behaviour: answer at once when the index moved past the client's, else wait. */
  serve(r: HealthReq, res: ServerResponse): void {
    if (r.index !== undefined && r.index >= this.index) this.#park(res, r);
    else this.json(res, this.checks, this.index);
  }

  /** Answers the parked health reads with the current script (a change happened). */
  wake(): void {
    for (const [res, r] of [...this.#parked]) {
      if (r === undefined) continue;
      this.#parked.delete(res);
      void this.health(r, res, this.healthReqs.length);
    }
  }

  /** Health reads currently parked. */
  get parked(): number {
    return [...this.#parked.values()].filter((r) => r !== undefined).length;
  }

  #park(res: ServerResponse, r: HealthReq | undefined): void {
    this.#parked.set(res, r);
    res.on('close', () => this.#parked.delete(res));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('error', () => {});
    const u = new URL(req.url ?? '/', 'http://x');
    const p = u.pathname;
    if (p === '/v1/agent/self') return this.json(res, { Config: { Datacenter: 'dc1' } }, 1);
    if (p.startsWith('/v1/kv/')) {
      if (u.searchParams.has('index')) return this.#park(res, undefined);
      res.writeHead(404, { 'x-consul-index': '1' }).end();
      return;
    }
    if (p.startsWith('/v1/catalog/service/'))
      return this.json(res, this.catalog.get(decodeURIComponent(p.slice(20))) ?? [], 10);
    if (p === '/v1/health/state/any') {
      const idx = u.searchParams.get('index');
      const r = { index: idx === null ? undefined : Number(idx), at: performance.now() };
      this.healthReqs.push(r);
      await this.health(r, res, this.healthReqs.length);
      return;
    }
    res.writeHead(404).end();
  }

  async close(): Promise<void> {
    for (const r of this.#parked.keys()) r.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

function options(url: string, blocking: ConsulBackendOptions['blocking'] = {}, maxBody?: number): ConsulBackendOptions {
  return {
    retryMs: 20,
    timeoutMs: 2000,
    kvpath: '/fabio/config',
    noroutePath: '/fabio/noroute.html',
    tagPrefix: 'urlprefix-',
    status: ['passing'],
    checksRequired: 'one',
    monitors: 1,
    pollIntervalMs: 0,
    register: undefined,
    blocking: { retryMs: 20, maxRetryMs: 160, waitMs: 60_000, random: () => 0, ...blocking },
    client: { addr: url, token: '', namespace: '', consistency: 'default', connections: 4, maxBody },
  };
}

async function start(t: T, consul: ScriptedConsul, blocking: ConsulBackendOptions['blocking'] = {}, maxBody?: number) {
  await consul.start();
  const log = memoryLogger('DEBUG');
  const backend = new ConsulBackend(options(consul.url, blocking, maxBody), log);
  const updates: RouteTextUpdate[] = [];
  t.after(async () => {
    await backend.stop();
    await consul.close();
  });
  await backend.connect();
  backend.watch({ routes: (u) => void updates.push(u), noRouteHtml: () => {} });
  const last = () => updates.at(-1)?.text;
  const waitText = (want: string, what = want) =>
    until(() => (last() === want ? true : undefined), 5000, `text ${JSON.stringify(what)}`);
  const lines = (re: RegExp) => log.lines.filter((l) => re.test(l));
  return { log, updates, last, waitText, lines };
}

/** Gaps between successive health requests, from the k-th request on. */
const gaps = (reqs: readonly HealthReq[], from: number) =>
  reqs.slice(from + 1).map((r, i) => r.at - (reqs[from + i] as HealthReq).at);

/** Backoff lower bound of the n-th event with retry 20, cap 160 and no jitter (timers may fire 1 ms early). */
const floor = (n: number) => Math.min(20 * 2 ** (n - 1), 160) - 2;

test('a malformed entry costs that entry only: the health change in the same answer is applied', async (t) => {
  const consul = new ScriptedConsul();
  const h = await start(t, consul);
  await h.waitText(`${WEB_ROUTE}\n`);
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  // web turns critical while a service with tags that are not strings arrives.
  const bad = { ...check('n1', 'new-1', 'new', ['urlprefix-/new'], 'passing'), ServiceTags: [1, { a: 2 }] };
  consul.checks = [serf('n1'), check('n1', 'web-1', 'web', WEB, 'critical'), bad];
  consul.index = 11;
  consul.wake();
  await h.waitText('\n', 'web removed');
  assert.deepEqual(h.lines(/Error fetching health state/), []);
  const warned = h.lines(/malformed entry/);
  assert.equal(warned.length, 1, warned.join('\n'));
  assert.match(warned[0] as string, /check "service:new-1" of service "new" on node "n1": ServiceTags is not a list/);
  // The same bad entry in the next answer is not reported again; a real change is still applied.
  consul.checks = [...consul.checks, check('n1', 'api-1', 'api', API, 'passing')];
  consul.index = 12;
  consul.wake();
  await h.waitText(`${API_ROUTE}\n`, 'api added');
  assert.equal(h.lines(/malformed entry/).length, 1);
});

test('an endless body is cut at registry.consul.maxbody; the last routes stay; a good answer applies', async (t) => {
  const consul = new ScriptedConsul();
  let sent = 0;
  let cut = 0;
  const h = await start(t, consul, {}, 1 << 20);
  await h.waitText(`${WEB_ROUTE}\n`);
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  consul.health = (_r, res) => {
    // A 200 MB answer, streamed as fast as the client reads it (never held in memory here).
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '11' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = 200 * 1024 * 1024;
    const pump = () => {
      while (left > 0) {
        left -= chunk.length;
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => {
      if (left > 0) cut++;
    });
    res.write('[');
    pump();
  };
  consul.index = 11;
  consul.wake();
  await until(() => cut >= 2 || undefined, 10_000, 'two oversized answers cut');
  // Cut near the cap (socket buffers hold a few MB more), far from 200 MB, and the routes stay.
  assert.ok(sent < 2 * 40 * 1024 * 1024, `sent ${sent}`);
  assert.equal(h.last(), `${WEB_ROUTE}\n`);
  const errors = h.lines(/Error fetching health state/);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.match(errors[0] as string, /exceeds registry\.consul\.maxbody \(1048576 bytes\)/);
  // Consul recovers with a real change: applied, and one summary line with the count.
  consul.checks = [serf('n1'), check('n1', 'api-1', 'api', API, 'passing')];
  consul.index = 12;
  consul.health = (r, res) => consul.serve(r, res);
  await h.waitText(`${API_ROUTE}\n`, 'api after recovery');
  await until(() => h.lines(/Health state fetched again after \d+ reads failed; routes are live/).length || undefined);
});

test('a body trickled at one byte per tick is aborted at the request deadline and retried', async (t) => {
  const consul = new ScriptedConsul();
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => {
    for (const x of timers) clearInterval(x);
  });
  const h = await start(t, consul, { waitMs: 200, marginMs: 300, readTimeoutMs: 300 });
  await h.waitText(`${WEB_ROUTE}\n`);
  consul.health = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '11' });
    res.write('[');
    // One byte every 20 ms: each gap is far below undici's 30 s body timeout, the whole never ends.
    const x = setInterval(() => res.write(' '), 20);
    timers.add(x);
    res.on('close', () => {
      clearInterval(x);
      timers.delete(x);
    });
  };
  const before = consul.healthReqs.length;
  consul.wake();
  await until(() => h.lines(/did not complete within/).length || undefined, 10_000, 'deadline error');
  await until(() => consul.healthReqs.length >= before + 3 || undefined, 10_000, 'retries');
  assert.equal(h.lines(/Error fetching health state/).length, 1);
  assert.equal(h.last(), `${WEB_ROUTE}\n`);
});

/** Waits for n health requests and checks the gaps from request `from` on grow like the backoff. */
async function assertBackoff(consul: ScriptedConsul, from: number, n: number, step: (k: number) => number) {
  await until(() => consul.healthReqs.length >= from + n + 1 || undefined, 20_000, `${n} more requests`);
  const g = gaps(consul.healthReqs, from).slice(0, n);
  g.forEach((ms, k) => assert.ok(ms >= step(k), `gap ${k}: ${ms.toFixed(1)} ms < ${step(k)} ms (${g.join(', ')})`));
}

for (const [name, header] of [
  ['an index of 0', '0'],
  ['a negative index', '-5'],
  ['a non-numeric index', 'abc'],
  ['an unchanged index answered at once', '10'],
] as const) {
  test(`${name}: blocking reads answered at once back off exponentially, one line per episode`, async (t) => {
    const consul = new ScriptedConsul();
    const h = await start(t, consul);
    await h.waitText(`${WEB_ROUTE}\n`);
    await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
    const from = consul.healthReqs.length;
    consul.health = (_r, res) => consul.json(res, consul.checks, header);
    consul.wake();
    // The parked read is answered at once (for 0 / -5 / abc: a lower index, i.e. a reset re-read at
    // once); from then on each request waits at least 20, 40, 80, 160, 160... ms (no jitter).
    await assertBackoff(consul, from + 1, 7, (k) => floor(k + 1));
    assert.equal(h.lines(/answered a blocking read at once/).length, 1);
    assert.equal(h.last(), `${WEB_ROUTE}\n`);
    // Consul behaves again, with a change: applied, and one summary line.
    consul.checks = [
      serf('n1'),
      check('n1', 'web-1', 'web', WEB, 'passing'),
      check('n1', 'api-1', 'api', API, 'passing'),
    ];
    consul.index = 11;
    consul.health = (r, res) => consul.serve(r, res);
    await h.waitText(`${WEB_ROUTE}\n${API_ROUTE}\n`, 'api added');
    await until(() => h.lines(/\/v1\/health\/state\/any is calm again \(\d+ early answers/).length || undefined);
    assert.equal(h.lines(/answered a blocking read at once/).length, 1);
  });
}

test('an index that keeps going backwards re-reads at once the first time, then backs off; one line', async (t) => {
  const consul = new ScriptedConsul();
  const h = await start(t, consul);
  await h.waitText(`${WEB_ROUTE}\n`);
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  const from = consul.healthReqs.length;
  // Blocking reads on 100 get 50 at once, other reads 100: a Consul flapping between two states.
  consul.health = (r, res) => consul.json(res, consul.checks, (r.index ?? 0) >= 100 ? 50 : 100);
  consul.wake();
  // Resets 2, 3, ... back off; each reset costs a fresh read and a blocking read (two gaps).
  await assertBackoff(consul, from + 2, 8, (k) => floor(Math.floor(k / 2) + 2));
  assert.equal(h.lines(/Index went backwards/).length, 1);
  assert.equal(h.last(), `${WEB_ROUTE}\n`);
  consul.checks = [serf('n1'), check('n1', 'api-1', 'api', API, 'passing')];
  consul.index = 200;
  consul.health = (r, res) => consul.serve(r, res);
  await h.waitText(`${API_ROUTE}\n`, 'api after calm');
  // The episode ends when a blocking read is answered with a newer index (the next change).
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  consul.index = 201;
  consul.wake();
  await until(() => h.lines(/is calm again \(index went backwards \d+ times\)/).length || undefined);
});

test('500s, resets, invalid JSON and wrong types: backoff, last routes kept, one line, change applied after', async (t) => {
  const consul = new ScriptedConsul();
  const h = await start(t, consul);
  await h.waitText(`${WEB_ROUTE}\n`);
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  const from = consul.healthReqs.length;
  const kinds: ((res: ServerResponse) => void)[] = [
    (res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('rpc error'),
    (res) => res.socket?.destroy(),
    (res) => res.writeHead(200, { 'x-consul-index': '11' }).end('[{"Node":'),
    (res) => res.writeHead(200, { 'x-consul-index': '11' }).end('{"Node":"n1"}'),
  ];
  consul.health = (_r, res, n) => (kinds[n % kinds.length] as (res: ServerResponse) => void)(res);
  consul.wake();
  await assertBackoff(consul, from, 7, (k) => floor(k + 1));
  const errors = h.lines(/Error fetching health state/);
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.equal(h.last(), `${WEB_ROUTE}\n`);
  consul.checks = [
    serf('n1'),
    check('n1', 'web-1', 'web', WEB, 'critical'),
    check('n1', 'api-1', 'api', API, 'passing'),
  ];
  consul.index = 12;
  consul.health = (r, res) => consul.serve(r, res);
  await h.waitText(`${API_ROUTE}\n`, 'web critical, api passing');
  const back = await until(() => h.lines(/Health state fetched again after (\d+) reads failed/).at(0));
  assert.ok(Number(/after (\d+) reads/.exec(back)?.[1]) >= 7, back);
});

test('HealthState: an answer that was not committed stays fresh for the retry; result equals a full parse', () => {
  const opts = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const };
  const a = [serf('n1'), check('n1', 'web-1', 'web', WEB, 'passing'), check('n1', 'api-1', 'api', API, 'passing')];
  const bad = { ...check('n1', 'x-1', 'x', ['urlprefix-/x'], 'passing'), ServiceTags: 'urlprefix-/x' };
  const b = [serf('n1'), check('n1', 'web-1', 'web', WEB, 'critical'), bad, a[2]];
  const hs = new HealthState(opts);
  hs.read(JSON.stringify(a));
  const first = hs.prepare(JSON.stringify(b));
  assert.equal(first.mode, 'incremental');
  assert.equal(first.rejected.length, 1);
  // Not committed (the catalog read failed): the retry sees the same changes.
  const retry = hs.prepare(JSON.stringify(b));
  const full = healthyServices(JSON.parse(JSON.stringify(b)), opts);
  assert.deepEqual([...retry.healthy.keys()].sort(), [...full.keys()].sort());
  assert.equal(retry.healthy.has('web'), false);
  assert.equal(retry.parsed, first.parsed);
  retry.commit();
  // Committed: the same body again has nothing fresh and the same result.
  const again = hs.prepare(JSON.stringify(b));
  assert.equal(again.parsed, 0);
  assert.deepEqual([...again.healthy.keys()].sort(), ['api']);
});

/** Writes 64 KB of spaces every tick until the client goes away (no Content-Length: a body without end). */
function trickle(res: ServerResponse): void {
  const tick = () => {
    if (res.destroyed) return;
    res.write(Buffer.alloc(64 << 10, 0x20));
    setImmediate(tick);
  };
  tick();
}

/** A ConsulClient on a scripted server (listening on port 0), both closed after the test. */
async function clientOf(t: T, srv: ReturnType<typeof createServer>, maxBody: number): Promise<ConsulClient> {
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const client = new ConsulClient({
    addr: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    token: '',
    namespace: '',
    consistency: 'default',
    connections: 4,
    maxBody,
  });
  t.after(() => client.close());
  return client;
}

test('ConsulClient: a declared Content-Length above the cap is refused before reading; silence hits the deadline', async (t) => {
  let written = 0;
  const srv = createServer((req, res) => {
    res.on('error', () => {});
    if (req.url?.startsWith('/silent')) return; // never answers, not even headers
    res.writeHead(200, { 'content-length': String(8 << 20), 'x-consul-index': '3' });
    // Sends the first MB only, then waits: a client that read to the end would hang here.
    const mb = Buffer.alloc(1 << 20, 0x20);
    written += mb.length;
    res.write(mb);
  });
  const client = await clientOf(t, srv, 4 << 20);
  await assert.rejects(client.get('/v1/health/state/any'), ConsulBodyTooLargeError);
  assert.ok(written <= 1 << 20);
  await assert.rejects(client.get('/silent', { timeoutMs: 200 }), ConsulTimeoutError);
  // The caller's abort is not reported as a deadline.
  const ac = new AbortController();
  const p = client.get('/silent', { timeoutMs: 60_000, signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e: Error) => !(e instanceof ConsulTimeoutError));
});

test('ConsulClient: a long-lived signal keeps no listener per request; chunked bodies, repeated headers, trickle past the cap', async (t) => {
  const srv = createServer((req, res) => {
    res.on('error', () => {});
    if (req.url?.startsWith('/silent')) return;
    if (req.url?.startsWith('/trickle')) {
      // no Content-Length: only the bytes received can trip the cap
      res.writeHead(200, { 'x-consul-index': '4' });
      return trickle(res);
    }
    res.writeHead(200, [
      ['X-Consul-Index', '7'],
      ['X-Twice', 'a'],
      ['X-Twice', 'b'],
    ]);
    res.write('[{"Node":');
    res.end('"n1"}]');
  });
  const client = await clientOf(t, srv, 1 << 20);
  // the backend hands one signal to every request of its lifetime
  const ac = new AbortController();
  for (let i = 0; i < 20; i++) {
    const r = await client.get('/v1/catalog/service/web', { signal: ac.signal });
    assert.equal(r.body, '[{"Node":"n1"}]');
    assert.equal(r.headers['x-consul-index'], '7');
    assert.equal(r.headers['x-twice'], 'a, b');
  }
  await assert.rejects(client.get('/trickle', { signal: ac.signal }), ConsulBodyTooLargeError);
  await assert.rejects(client.get('/silent', { signal: ac.signal, timeoutMs: 100 }), ConsulTimeoutError);
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  // an abort before the request got a connection ends it too
  const gone = new AbortController();
  gone.abort();
  await assert.rejects(client.get('/v1/catalog/service/web', { signal: gone.signal }), { name: 'AbortError' });
  // the pool is still usable after every kind of early end
  assert.equal((await client.get('/v1/catalog/service/web')).status, 200);
});

test('ConsulClient: bodies received into reused buffers never overwrite the body in use; two buffers in steady state', async (t) => {
  /** n bytes that differ per request (k), so a stale or overwritten body cannot look right. */
  const bodyOf = (n: number, k: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + k * 7) & 255;
    return b;
  };
  const srv = createServer((req, res) => {
    res.on('error', () => {});
    const u = new URL(req.url ?? '/', 'http://x');
    const n = Number(u.searchParams.get('n'));
    const body = bodyOf(n, Number(u.searchParams.get('k')));
    if (u.pathname === '/trickle') {
      res.writeHead(200, { 'x-consul-index': '4' });
      return trickle(res);
    }
    if (u.pathname === '/cl') {
      res.writeHead(200, { 'content-length': String(n), 'x-consul-index': '5' });
      return res.end(body);
    }
    // chunked, in uneven pieces, so the receive buffer grows while the body is copied in
    res.writeHead(200, { 'x-consul-index': '6' });
    for (let at = 0; at < n; at += 7001) res.write(body.subarray(at, at + 7001));
    res.end();
  });
  const client = await clientOf(t, srv, 4 << 20);
  let inUse: { bytes: Buffer; k: number } | undefined;
  const into = new ReceiveBuffers(() => inUse?.bytes);
  const memories = new Set<ArrayBufferLike>();
  const steps: [string, number, boolean][] = [
    ['chunked', 10, true],
    ['chunked', 150_000, false], // grows past the first 64 KB buffer; not committed
    ['cl', 300_000, true],
    ['chunked', 1_000_000, true], // grows by doubling
    ['cl', 50, false],
    ['chunked', 1_000_000, true],
    ['chunked', 999_000, true],
    ['cl', 1_000_000, false],
    ['chunked', 1_000_000, true],
  ];
  for (const [k, [kind, n, commit]] of steps.entries()) {
    const r = await client.get(`/${kind}?n=${n}&k=${k}`, { into });
    assert.ok(r.bytes?.equals(bodyOf(n, k)), `step ${k}: ${kind} ${n}`);
    assert.notEqual(r.bytes?.buffer, inUse?.bytes.buffer, `step ${k} was received into the body in use`);
    if (inUse)
      assert.ok(inUse.bytes.equals(bodyOf(inUse.bytes.length, inUse.k)), `step ${k} overwrote the body in use`);
    if (k >= 5) memories.add(r.bytes?.buffer as ArrayBufferLike);
    if (commit) inUse = { bytes: r.bytes as Buffer, k };
  }
  // from the first largest answer on, answers alternate between two buffers: nothing is allocated
  assert.ok(memories.size <= 2, `${memories.size} buffers`);
  // the body cap holds for received bodies too
  await assert.rejects(client.get('/trickle', { into }), ConsulBodyTooLargeError);
  // a body with nothing in it
  assert.equal((await client.get('/cl?n=0&k=0', { into })).bytes?.length, 0);
});

test('ReceiveBuffers.reserve: the spare buffer is made beforehand, as large as the one held, and is the next one taken', () => {
  let inUse: Buffer | undefined;
  const into = new ReceiveBuffers(() => inUse);
  into.reserve(); // nothing held yet: nothing to size a spare by
  const first = into.take(1_000_000);
  inUse = first.subarray(0, 1_000_000);
  into.reserve();
  // a small answer would otherwise get a new 64 KB buffer: the spare is there already
  const next = into.take(10);
  assert.notEqual(next.buffer, first.buffer, 'the spare is not the buffer in use');
  assert.equal(next.length, first.length);
  assert.ok(
    next.every((b) => b === 0),
    'its pages were written',
  );
  // a second reserve while two are held makes none
  inUse = next.subarray(0, 10);
  into.reserve();
  assert.equal(into.take(1_000_000).buffer, first.buffer, 'two buffers alternate');
});

test('backoffMs: doubles from retryMs, capped, jitter adds at most half', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, 1000, 30_000, () => 0)),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
  );
  assert.equal(
    backoffMs(3, 1000, 30_000, () => 1),
    6000,
  );
  assert.equal(
    backoffMs(200, 1000, 30_000, () => 0.5),
    37_500,
  );
});

test('a Consul restarted with lower indexes after an outage: resynced by the first good read, then blocks', async (t) => {
  const consul = new ScriptedConsul();
  const h = await start(t, consul);
  await h.waitText(`${WEB_ROUTE}\n`);
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read');
  let failed = 0;
  consul.health = (_r, res) => {
    failed++;
    res.writeHead(500).end('connection refused');
  };
  consul.wake();
  await until(() => failed >= 2 || undefined, 5000, 'two failures');
  const before = consul.healthReqs.length;
  const failedBefore = failed;
  consul.index = 3;
  consul.checks = [serf('n1'), check('n1', 'api-1', 'api', API, 'passing')];
  consul.health = (r, res) => consul.serve(r, res);
  await h.waitText(`${API_ROUTE}\n`, 'api after the restart');
  await until(() => consul.parked > 0 || undefined, 5000, 'blocking read on the new index');
  const last = consul.healthReqs.at(-1);
  assert.equal(last?.index, 3);
  // The reads after the outage: fresh reads until Consul answers, the one good fresh read has
  // resynced already, so the next read blocks at once on its index (no second fresh read).
  const after = consul.healthReqs.slice(before);
  assert.deepEqual(
    after.map((r) => r.index),
    [...after.slice(0, -1).map(() => undefined), 3],
  );
  assert.equal(after.filter((r) => r.index === undefined).length - (failed - failedBefore), 1, JSON.stringify(after));
  assert.equal(h.lines(/Index went backwards/).length, 1);
  assert.equal(h.lines(/Error fetching health state/).length, 1);
});

test('malformed catalog rows, health/service entries and KV entries cost that entry only', () => {
  const good = row('n1', 'web-1', 'web', WEB, '10.0.0.5', 8080);
  const bad = { ...row('n1', 'web-2', 'web', WEB, '10.0.0.7', 8080), ServiceTags: 'urlprefix-/web' };
  const members = new Set(['n1\u0000web-1', 'n1\u0000web-2']);
  const out = translateRows('web', [good, bad] as never, members, (n, id) => `${n}\u0000${id}`, {
    tagPrefix: 'urlprefix-',
    dc: 'dc1',
  });
  assert.deepEqual(out.lines, [WEB_ROUTE]);
  // reported as a warning of that service (the table updater logs it once and shows it in the UI)
  assert.deepEqual(
    out.warnings.map((w) => [w.service, w.message]),
    [['web', 'malformed catalog row: ServiceTags is not a list of strings; row ignored']],
  );

  const entries = healthEntries('web', [
    {
      Node: { Node: 'n1', Address: '10.0.0.1' },
      Service: { ID: 'web-1', Service: 'web', Tags: WEB, Port: 1 },
      Checks: 7,
    },
    { Node: { Node: 'n1' }, Service: { ID: 'web-2', Service: 'web', Tags: 'urlprefix-/web' as never } },
  ] as never);
  assert.deepEqual(
    entries.rows.map((r) => r.ServiceID),
    ['web-1'],
  );

  const value = Buffer.from('route add a / http://10.0.0.1/').toString('base64');
  const kv = kvEntries({
    status: 200,
    headers: {},
    body: JSON.stringify([
      { Key: 42, Value: value },
      { Key: 'fabio/config', Value: 7 },
      { Key: 'fabio/config/a', Value: value },
    ]),
  });
  assert.deepEqual(
    kv.map((e) => e.Key),
    ['fabio/config/a'],
  );
  assert.deepEqual(ignoredSiblings(kv, 'fabio/config'), []);
});
