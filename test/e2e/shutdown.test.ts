// Whole-process SIGTERM shutdown while serving (reference section (i)): fabio deregisters, waits
// proxy.deregistergraceperiod, closes the listeners and lets in-flight requests finish within
// proxy.shutdownwait, logs `[INFO] Down`, exits 0. A second signal ends it at once.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { test } from 'node:test';
import { type Fabio, freePort, processesWith, startFabio, strayErrors, tail, until } from '../helpers/proc.ts';
import { type GatedCatalog, startGatedCatalog } from './catalog.ts';

const DEREGISTER = '/v1/agent/service/deregister/';

/** A backend whose /slow requests wait until the test releases them; everything else answers `fast`. */
async function slowBackend() {
  const held: ServerResponse[] = [];
  let arrived: () => void = () => {};
  const slowArrived = new Promise<void>((r) => {
    arrived = r;
  });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/slow') return res.end('fast');
    held.push(res);
    arrived();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    slowArrived,
    release: () => {
      for (const res of held) res.end('slow done');
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** GET on a new connection (never a pooled one): status and body, or the connection error. */
function freshGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves true when a TCP connection to port is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

interface Setup {
  g: GatedCatalog;
  b: Awaited<ReturnType<typeof slowBackend>>;
  f: Fabio;
  proxy: number;
  ui: number;
  slow: Promise<{ status: number; body: string }>;
}

/** fabio-ts serving a slow request that is in flight when the function returns. */
async function serveSlow(t: { after(fn: () => unknown): void }, workers: number, extra: string[]): Promise<Setup> {
  const g = await startGatedCatalog();
  t.after(() => g.close());
  const b = await slowBackend();
  t.after(() => b.close());
  g.catalog.registerServiceForTest({
    Name: 'slow',
    Port: b.port,
    Address: '127.0.0.1',
    Tags: ['urlprefix-/'],
    Check: { HTTP: `http://127.0.0.1:${b.port}/`, Interval: '1s' },
  });
  const [proxy, ui] = [await freePort(), await freePort()];
  const f = startFabio([
    `-proxy.addr=127.0.0.1:${proxy}`,
    `-ui.addr=127.0.0.1:${ui}`,
    '-registry.backend=consul',
    `-registry.consul.addr=${g.addr}`,
    '-registry.consul.register.addr=127.0.0.1',
    `-proxy.workers=${workers}`,
    ...extra,
  ]);
  t.after(() => f.kill());
  await f.waitFor(workers > 1 ? /worker processes serving/ : /proxy listening on/, 30_000);
  await until(async () => (await freshGet(proxy, '/')).body === 'fast', 15_000);
  await until(async () => (await g.services()).includes('fabio'));
  const slow = freshGet(proxy, '/slow');
  slow.catch(() => {});
  await b.slowArrived;
  return { g, b, f, proxy, ui, slow };
}

for (const workers of [1, 2]) {
  test(`SIGTERM during a slow request: deregistered first, grace period waited, the request completes, Down, exit 0 (workers=${workers})`, async (t) => {
    const grace = 1500;
    const { g, b, f, proxy, ui, slow } = await serveSlow(t, workers, [
      '-proxy.shutdownwait=60s',
      `-proxy.deregistergraceperiod=${grace}ms`,
    ]);
    g.hold(DEREGISTER);
    f.proc.kill('SIGTERM');
    await g.arrived(DEREGISTER);
    // While the deregistration is in flight, the listeners still accept new connections.
    assert.deepEqual(await freshGet(proxy, '/'), { status: 200, body: 'fast' });
    const released = performance.now();
    g.release(DEREGISTER);
    await until(async () => !(await g.services()).includes('fabio'));
    // The listeners close, but not before the grace period has passed since the deregistration.
    await until(() => refused(proxy), 30_000, 10);
    const closedAfter = performance.now() - released;
    t.diagnostic(
      `listeners closed ${closedAfter.toFixed(0)} ms after the deregistration was answered (grace ${grace} ms)`,
    );
    assert.ok(closedAfter >= grace, `closed ${closedAfter.toFixed(0)} ms after deregistration`);
    // Draining: the process has no accepting listener, and /health says so.
    const h = await fetch(`http://127.0.0.1:${ui}/health`);
    assert.equal(h.status, 503);
    assert.equal(await h.text(), `listener 127.0.0.1:${proxy} not accepting\n`);
    assert.equal(f.proc.exitCode, null, 'exited before the in-flight request finished');
    b.release();
    assert.deepEqual(await slow, { status: 200, body: 'slow done' });
    assert.equal(await f.exited, 0, tail(f));
    const out = [...f.stderr, ...f.stdout];
    assert.match(out.join('\n'), /\[INFO\] Caught SIGTERM\. Exiting\n(.*\n)*.*\[INFO\] Down$/);
    assert.deepEqual(strayErrors(out), []);
    await until(() => processesWith(`-proxy.addr=127.0.0.1:${proxy}`).length === 0, 5000);
  });

  test(`a second SIGTERM during the drain exits at once (workers=${workers})`, async (t) => {
    const { f, proxy } = await serveSlow(t, workers, ['-proxy.shutdownwait=10m']);
    f.proc.kill('SIGTERM');
    await until(() => refused(proxy), 30_000, 10);
    assert.equal(f.proc.exitCode, null);
    f.proc.kill('SIGTERM');
    // shutdownwait is 10 minutes: only the second signal can end it within the test's time-out
    assert.equal(await f.exited, 1, tail(f));
    assert.match(f.stderr.join('\n'), /\[WARN\] Caught SIGTERM again\. Exiting now/);
    assert.deepEqual(strayErrors([...f.stderr, ...f.stdout]), []);
    await until(() => processesWith(`-proxy.addr=127.0.0.1:${proxy}`).length === 0, 5000);
  });
}
