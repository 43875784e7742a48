// Start-up and shutdown of the whole process (issue #12 items 1, 2, 6, 9; issue #20 item 1): signals in
// every phase, listeners that cannot bind, /health before the first table. The catalog runs in the
// test process behind a gate (./catalog.ts), so the test sees what fabio-ts left registered after it
// exited and can hold Consul's answers to keep fabio-ts in a phase.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import {
  childrenOf,
  type Fabio,
  freePort,
  isWorkerProcess,
  processesWith,
  startFabio,
  strayErrors,
  tail,
  until,
} from '../helpers/proc.ts';
import { type GatedCatalog, startGatedCatalog } from './catalog.ts';
import { backend } from './fixtures.ts';

interface Ports {
  proxy: number;
  ui: number;
}

async function ports(): Promise<Ports> {
  return { proxy: await freePort(), ui: await freePort() };
}

function fabioAgainst(consulAddr: string, p: Ports, workers: number, extra: string[] = []): Fabio {
  return startFabio([
    `-proxy.addr=127.0.0.1:${p.proxy}`,
    `-ui.addr=127.0.0.1:${p.ui}`,
    '-registry.backend=consul',
    `-registry.consul.addr=${consulAddr}`,
    '-registry.consul.register.addr=127.0.0.1',
    `-proxy.workers=${workers}`,
    ...extra,
  ]);
}

async function gated(t: { after(fn: () => unknown): void }): Promise<GatedCatalog> {
  const g = await startGatedCatalog();
  t.after(() => g.close());
  return g;
}

/** A port held by another server for the test's duration. */
async function takenPort(t: { after(fn: () => unknown): void }): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => s.close());
  return (s.address() as { port: number }).port;
}

function assertClean(f: Fabio): void {
  assert.deepEqual(strayErrors([...f.stderr, ...f.stdout]), [], 'stack traces or raw errors in the output');
}

async function health(p: Ports): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${p.ui}/health`);
  return { status: r.status, body: await r.text() };
}

for (const workers of [1, 2]) {
  test(`a proxy listener that cannot bind ends the process with [FATAL] and status 1 (workers=${workers})`, async (t) => {
    const g = await gated(t);
    const p = { ...(await ports()), proxy: await takenPort(t) };
    const t0 = performance.now();
    const f = startFabio([
      // a listener that can bind first (port 0: no other process can hold it): it must not stay open
      // when the second one fails
      `-proxy.addr=127.0.0.1:0;proto=tcp,127.0.0.1:${p.proxy}`,
      `-ui.addr=127.0.0.1:${p.ui}`,
      '-registry.backend=consul',
      `-registry.consul.addr=${g.addr}`,
      '-registry.consul.register.addr=127.0.0.1',
      `-proxy.workers=${workers}`,
    ]);
    t.after(() => f.kill());
    const fatal = await f.waitFor(/\[FATAL\]/, 30_000);
    const tFatal = performance.now();
    assert.equal(await f.exited, 1, tail(f));
    const tExit = performance.now();
    assert.match(
      fatal,
      new RegExp(`\\[FATAL\\] HTTP proxy cannot listen on 127\\.0\\.0\\.1:${p.proxy}: address already in use$`),
    );
    t.diagnostic(
      `workers=${workers}: start → [FATAL] ${(tFatal - t0).toFixed(0)} ms, [FATAL] → exit ${(tExit - tFatal).toFixed(0)} ms`,
    );
    assert.equal([...f.stderr, ...f.stdout].filter((l) => l.includes('[FATAL]')).length, 1, 'one [FATAL] line');
    assertClean(f);
    // nothing left: no worker, no listener, no registration
    await until(() => processesWith(`-proxy.addr=127.0.0.1:0;proto=tcp,127.0.0.1:${p.proxy}`).length === 0, 5000);
    await assert.rejects(fetch(`http://127.0.0.1:${p.ui}/health`));
    assert.deepEqual(await g.services(), []);
  });
}

test('an admin port that cannot bind ends the process with [FATAL] and status 1', async (t) => {
  const p = { ...(await ports()), ui: await takenPort(t) };
  const f = startFabio([
    `-proxy.addr=127.0.0.1:${p.proxy}`,
    `-ui.addr=127.0.0.1:${p.ui}`,
    '-registry.backend=static',
    '-registry.static.routes=route add a / http://127.0.0.1:1/',
    '-proxy.workers=1',
  ]);
  t.after(() => f.kill());
  assert.equal(await f.exited, 1, tail(f));
  const fatal = f.stderr.filter((l) => l.includes('[FATAL]'));
  assert.equal(fatal.length, 1);
  assert.match(
    fatal[0] as string,
    new RegExp(`\\[FATAL\\] Admin server cannot listen on 127\\.0\\.0\\.1:${p.ui}: address already in use$`),
  );
  assertClean(f);
});

test('-dev with its catalog port taken: [FATAL] naming -dev.addr, status 1', async (t) => {
  const taken = await takenPort(t);
  const p = await ports();
  const f = startFabio([
    '-dev',
    `-dev.addr=127.0.0.1:${taken}`,
    `-ui.addr=127.0.0.1:${p.ui}`,
    `-proxy.addr=127.0.0.1:${p.proxy}`,
    '-proxy.workers=1',
  ]);
  t.after(() => f.kill());
  assert.equal(await f.exited, 1, tail(f));
  const fatal = f.stderr.find((l) => l.includes('[FATAL]')) ?? '';
  assert.match(fatal, new RegExp(`127\\.0\\.0\\.1:${taken}: address already in use .*-dev\\.addr`));
  assertClean(f);
});

for (const consul of ['refuses connections', 'accepts and never answers']) {
  test(`SIGTERM while Consul ${consul}: exit 0 with fabio lines, no stack`, async (t) => {
    const p = await ports();
    let addr = `127.0.0.1:${await freePort()}`;
    if (consul !== 'refuses connections') {
      const silent = createServer(() => {});
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      t.after(() => silent.close());
      addr = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    }
    // connect() keeps retrying (or waiting) for registry.timeout
    const f = fabioAgainst(addr, p, 1, ['-registry.timeout=5m', '-registry.retry=50ms']);
    t.after(() => f.kill());
    await f.waitFor(/Using route matching/, 30_000);
    f.proc.kill('SIGHUP');
    await f.waitFor(/\[INFO\] Caught SIGHUP\. Ignoring/);
    assert.equal(f.proc.exitCode, null);
    assert.equal(await f.stop('SIGTERM'), 0, tail(f));
    const out = f.stderr.join('\n');
    assert.match(out, /\[INFO\] Caught SIGTERM\. Exiting\n(.*\n)*.*\[INFO\] Down$/);
    assertClean(f);
  });
}

test('SIGTERM while Consul never answers the health watch: /health 503, SIGHUP ignored, deregistered, exit 0', async (t) => {
  const g = await gated(t);
  g.hold('/v1/health/');
  const p = await ports();
  const f = fabioAgainst(g.addr, p, 1);
  t.after(() => f.kill());
  await f.waitFor(/Waiting for first routing table/, 30_000);
  await until(async () => (await g.services()).includes('fabio'));
  assert.deepEqual(await health(p), { status: 503, body: 'no routing table yet\n' });
  f.proc.kill('SIGHUP');
  await f.waitFor(/Caught SIGHUP\. Ignoring/);
  assert.deepEqual(await health(p), { status: 503, body: 'no routing table yet\n' });
  assert.equal(await f.stop('SIGTERM'), 0, tail(f));
  assert.deepEqual(await g.services(), [], 'fabio is still registered');
  assert.match(f.stderr.join('\n'), /Caught SIGTERM\. Exiting\n(.*\n)*.*\[INFO\] Down$/);
  assertClean(f);
});

test('SIGTERM while the workers start: deregistered, every worker gone, exit 0, no EPIPE', {
  skip: process.platform !== 'linux',
}, async (t) => {
  const g = await gated(t);
  const p = await ports();
  const f = fabioAgainst(g.addr, p, 2);
  t.after(() => f.kill());
  // A worker, not any child: the primary may run other short-lived children first (git rev-parse for
  // the version line from a source tree), and between fork and exec such a child still shows the
  // primary's command line. A worker is the child whose environment carries the worker mark.
  const worker = () => childrenOf(f.proc.pid).some(isWorkerProcess);
  await until(worker, 30_000, 5);
  const phase = [...f.stderr].some((l) => l.includes('worker processes serving'));
  f.proc.kill('SIGHUP');
  f.proc.kill('SIGTERM');
  assert.equal(await f.exited, 0, tail(f));
  assert.ok(!phase, 'the workers were already serving: the signal missed the start-up window');
  assert.deepEqual(await g.services(), []);
  await until(() => processesWith(`-proxy.addr=127.0.0.1:${p.proxy}`).length === 0, 5000);
  assertClean(f);
});

for (const workers of [1, 2]) {
  test(`SIGHUP while serving is ignored; /health is OK only with a table and every listener up (workers=${workers})`, async (t) => {
    const g = await gated(t);
    const b = await backend('b');
    t.after(() => b.close());
    g.catalog.registerServiceForTest({
      Name: 'b',
      Port: b.port,
      Address: '127.0.0.1',
      Tags: ['urlprefix-/'],
      Check: { HTTP: `http://127.0.0.1:${b.port}/`, Interval: '1s' },
    });
    const p = await ports();
    const tcp = await freePort();
    const f = fabioAgainst(g.addr, p, workers, [`-proxy.addr=127.0.0.1:${p.proxy},127.0.0.1:${tcp};proto=tcp`]);
    t.after(async () => assert.equal(await f.stop(), 0, tail(f)));
    await f.waitFor(workers > 1 ? /worker processes serving/ : /TCP proxy listening/, 30_000);
    assert.deepEqual(await health(p), { status: 200, body: 'OK\n' });
    f.proc.kill('SIGHUP');
    await f.waitFor(/Caught SIGHUP\. Ignoring/);
    await until(async () => (await (await fetch(`http://127.0.0.1:${p.proxy}/`)).text()) === 'b');
    assert.deepEqual(await health(p), { status: 200, body: 'OK\n' });
    // each listener's start line once, with the worker count when there are workers
    for (const re of [/HTTP proxy listening on/, /TCP proxy listening on/]) {
      const lines = [...f.stderr, ...f.stdout].filter((l) => re.test(l));
      assert.equal(lines.length, 1, lines.join('\n'));
      if (workers > 1) assert.match(lines[0] as string, / \(2 workers\)$/);
    }
    assertClean(f);
  });
}

test('workers leave quietly when the primary is killed (no EPIPE, no stack, none left)', {
  skip: process.platform !== 'linux',
}, async (t) => {
  const p = await ports();
  const f = startFabio([
    `-proxy.addr=127.0.0.1:${p.proxy}`,
    `-ui.addr=127.0.0.1:${p.ui}`,
    '-registry.backend=static',
    '-registry.static.routes=route add a / http://127.0.0.1:1/',
    '-proxy.workers=2',
  ]);
  t.after(() => f.kill());
  await f.waitFor(/2 worker processes serving/, 30_000);
  const workers = childrenOf(f.proc.pid);
  assert.equal(workers.length, 2);
  f.proc.kill('SIGKILL');
  await until(() => processesWith(`-proxy.addr=127.0.0.1:${p.proxy}`).length === 0, 10_000);
  // the workers share the primary's stderr: everything they wrote has arrived once it closes
  if (!f.proc.stderr?.closed) await new Promise((r) => f.proc.stderr?.once('close', r));
  assertClean(f);
});

test('SIGHUP while waiting for the first table is ignored: the table arrives, /health turns OK, it serves', async (t) => {
  const g = await gated(t);
  g.hold('/v1/health/');
  const b = await backend('b');
  t.after(() => b.close());
  g.catalog.registerServiceForTest({
    Name: 'b',
    Port: b.port,
    Address: '127.0.0.1',
    Tags: ['urlprefix-/'],
    Check: { HTTP: `http://127.0.0.1:${b.port}/`, Interval: '1s' },
  });
  const p = await ports();
  const f = fabioAgainst(g.addr, p, 1);
  t.after(async () => assert.equal(await f.stop(), 0, tail(f)));
  await f.waitFor(/Waiting for first routing table/, 30_000);
  f.proc.kill('SIGHUP');
  await f.waitFor(/Caught SIGHUP\. Ignoring/);
  assert.deepEqual(await health(p), { status: 503, body: 'no routing table yet\n' });
  g.release('/v1/health/');
  await until(async () => (await health(p)).status === 200, 15_000);
  await until(async () => (await (await fetch(`http://127.0.0.1:${p.proxy}/`)).text()) === 'b', 15_000);
  assertClean(f);
});

test('SIGHUP to the primary while the workers start, then to every worker, is ignored: all serve', {
  skip: process.platform !== 'linux',
}, async (t) => {
  const p = await ports();
  const f = startFabio([
    `-proxy.addr=127.0.0.1:${p.proxy}`,
    `-ui.addr=127.0.0.1:${p.ui}`,
    '-registry.backend=static',
    // the proxy's only route leads to the admin server's /health
    `-registry.static.routes=route add a /health http://127.0.0.1:${p.ui}/`,
    '-proxy.workers=2',
  ]);
  t.after(async () => assert.equal(await f.stop(), 0, tail(f)));
  // A worker, not any child: the primary may run other short-lived children first (git rev-parse for
  // the version line from a source tree), and between fork and exec such a child still shows the
  // primary's command line. A worker is the child whose environment carries the worker mark.
  const worker = () => childrenOf(f.proc.pid).some(isWorkerProcess);
  await until(worker, 30_000, 5);
  const phase = f.stderr.some((l) => l.includes('worker processes serving'));
  f.proc.kill('SIGHUP');
  assert.ok(!phase, 'the workers were already serving: the signal missed the start-up window');
  await f.waitFor(/2 worker processes serving/, 30_000);
  // A worker ignores SIGHUP from the moment its code runs (a hang-up of the whole process group in
  // the first instant of a worker's start would still end that worker; it would be replaced).
  const workers = childrenOf(f.proc.pid);
  for (const w of workers) process.kill(w, 'SIGHUP');
  const r = await fetch(`http://127.0.0.1:${p.proxy}/health`);
  assert.deepEqual({ status: r.status, body: await r.text() }, { status: 200, body: 'OK\n' });
  assert.deepEqual(childrenOf(f.proc.pid).sort(), workers.sort(), 'a worker died and was replaced');
  assert.doesNotMatch(f.stderr.join('\n'), /exited \(/);
  assertClean(f);
});
