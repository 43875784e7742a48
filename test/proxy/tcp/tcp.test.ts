import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { freePort } from '../../helpers/proc.ts';
import { echoServer, fakeTable, makeDeps, roundTrip, spec, until } from './helpers.ts';

/** A close() grace longer than the test timeout (120 s): reaching the end of it is a failure. */
const GRACE_BEYOND_TEST = 10 * 60_000;

async function setup(
  t: import('node:test').TestContext,
  routesFor: (echoPort: number, listenPort: number) => Record<string, { url: string; proxyProto?: boolean }[]>,
  over = {},
) {
  const echo = await echoServer();
  t.after(echo.close);
  const env = makeDeps(undefined);
  const l = await startTcpListener(spec(over), env.deps);
  t.after(() => l.close(0));
  env.store.swap(fakeTable(routesFor(echo.port, l.port)));
  return { ...env, echo, l };
}

test('tcp: echo through the listener, routed by :<listen port>, bytes counted', async (t) => {
  const { l, metrics, log } = await setup(t, (ep, lp) => ({ [`:${lp}`]: [{ url: `tcp://127.0.0.1:${ep}` }] }));
  const payload = Buffer.alloc(200_000, 7);
  const r = await roundTrip(l.port, payload);
  assert.equal(r.error, undefined);
  assert.deepEqual(r.data, payload);
  await until(() => metrics.bytes.length === 1);
  assert.deepEqual(metrics.bytes[0], {
    rx: payload.length,
    tx: payload.length,
    key: `svc\u0000${metrics.bytes[0]!.key.split('\u0000')[1]}`,
  });
  assert.equal(metrics.counts['tcp.conn'], 1);
  assert.ok(
    log.lines.some((x) => /^\[INFO\] TCP proxy listening on 127\.0\.0\.1:\d+$/.test(x)),
    log.lines.join('\n'),
  );
});

test('tcp: no route closes the connection, counts noroute and notfound, logs a WARN', async (t) => {
  const { l, metrics, log } = await setup(t, (ep) => ({ ':1': [{ url: `tcp://127.0.0.1:${ep}` }] }));
  const r = await roundTrip(l.port, 'hello');
  assert.equal(r.data.length, 0);
  assert.equal(metrics.counts['tcp.noroute'], 1);
  assert.equal(metrics.counts.notfound, 1);
  assert.ok(log.lines.includes(`[WARN] tcp: no route for :${l.port}`), log.lines.join('\n'));
});

test("tcp: dial failure closes the connection with fabio's log line and connfail", async (t) => {
  const deadPort = await freePort(); // nothing listens there
  const { l, metrics, log } = await setup(t, (_ep, lp) => ({ [`:${lp}`]: [{ url: `tcp://127.0.0.1:${deadPort}` }] }));
  const r = await roundTrip(l.port, 'hello');
  assert.equal(r.data.length, 0);
  await until(() => metrics.counts['tcp.connfail'] === 1);
  assert.ok(log.lines.includes(`[WARN] tcp: cannot connect to upstream 127.0.0.1:${deadPort}`), log.lines.join('\n'));
});

test('tcp: half-close keeps the other direction open', async (t) => {
  // upstream: reads until client FIN, then answers with what it got, then closes
  const up = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => setTimeout(() => s.end(`got:${Buffer.concat(chunks)}`), 20));
  });
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  t.after(() => up.close());
  const env = makeDeps(undefined);
  const l = await startTcpListener(spec(), env.deps);
  t.after(() => l.close(0));
  env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
  const r = await roundTrip(l.port, 'abc');
  assert.equal(r.data.toString(), 'got:abc');
});

test('tcp: allow/deny rules by client address', async (t) => {
  for (const [allowed, expectEcho] of [
    [true, true],
    [false, false],
  ] as const) {
    const echo = await echoServer();
    t.after(echo.close);
    const env = makeDeps(undefined);
    const l = await startTcpListener(spec(), env.deps);
    t.after(() => l.close(0));
    const seen: string[] = [];
    const rules = { mode: 'allow' as const, allowed: (ip: string) => (seen.push(ip), allowed) };
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}`, accessRules: rules }] }));
    const r = await roundTrip(l.port, 'ping');
    assert.equal(r.data.toString(), expectEcho ? 'ping' : '');
    assert.deepEqual(seen, ['127.0.0.1']);
    const denied = `[INFO] route rules denied access from 127.0.0.1 to tcp://127.0.0.1:${echo.port}`;
    assert.equal(env.log.lines.includes(denied), !allowed, env.log.lines.join('\n'));
  }
});

test('tcp: rt, wt and it close a connection that stays silent', async (t) => {
  for (const over of [{ readTimeout: 150 }, { writeTimeout: 150 }, { idleTimeout: 150 }]) {
    const echo = await echoServer();
    t.after(echo.close);
    const env = makeDeps(undefined);
    const l = await startTcpListener(spec(over), env.deps);
    t.after(() => l.close(0));
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => {
      const s = net.connect(l.port, '127.0.0.1', () => s.write('x'));
      s.on('error', () => {});
      s.resume();
      s.on('close', () => resolve(Date.now() - started));
    });
    // neither end closes on its own: the close is the proxy's deadline, and never before it
    assert.ok(closed >= 140, `${JSON.stringify(over)}: closed after ${closed}ms`);
  }
});

test('tcp: close(grace) waits for open connections, then destroys them', async (t) => {
  const echo = await echoServer();
  t.after(echo.close);
  for (const [grace, expectForced] of [
    [100, true],
    [GRACE_BEYOND_TEST, false],
  ] as const) {
    const env = makeDeps(undefined);
    const l = await startTcpListener(spec(), env.deps);
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
    const s = net.connect(l.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise<void>((r) => {
      s.write('x');
      s.once('data', () => r());
    });
    if (expectForced) {
      const t0 = Date.now();
      await l.close(grace);
      const took = Date.now() - t0;
      assert.ok(took >= 90, `forced after ${took}, not before the grace`);
    } else {
      // The grace outlives the test's own timeout: close() can only resolve because the last
      // connection ended, not because the grace ran out.
      const closing = l.close(grace);
      s.end();
      await closing;
    }
    // no new connections accepted
    await assert.rejects(
      new Promise((res, rej) => {
        const c = net.connect(l.port, '127.0.0.1', () => {
          c.destroy();
          res(0);
        });
        c.on('error', rej);
      }),
    );
    s.destroy();
  }
});

test('tcp: a broken route or a throwing table costs one connection, never the process', async (t) => {
  const env = makeDeps(undefined);
  const l = await startTcpListener(spec(), env.deps);
  t.after(() => l.close(0));
  const base = fakeTable({ [`:${l.port}`]: [{ url: 'tcp://127.0.0.1:1' }] });
  const r0 = base.lookupTcp(`:${l.port}`)!;
  const badPort = { ...r0, target: { ...r0.target, port: 99999, hostPort: '127.0.0.1:99999' } };
  const cases: [string, import('../../../src/routes/types.ts').Table['lookupTcp']][] = [
    ['target port out of range', () => badPort],
    [
      'lookup throws',
      () => {
        throw new Error('engine bug');
      },
    ],
  ];
  for (const [name, lookupTcp] of cases) {
    env.store.swap({ ...base, lookupTcp });
    const r = await roundTrip(l.port, 'x');
    assert.equal(r.data.length, 0, name);
  }
  assert.ok(env.log.lines.includes('[WARN] tcp: cannot connect to upstream 127.0.0.1:99999'), env.log.lines.join('\n'));
  assert.ok(env.log.lines.includes('[ERROR] tcp: Error: engine bug'), env.log.lines.join('\n'));
});

test('tcp: clients that reset at once or mid-transfer, and an upstream that drops them, leave no connection behind', async (t) => {
  const echo = await echoServer();
  t.after(echo.close);
  // an upstream that reads nothing and drops every connection after 50 ms
  const slow = net.createServer({ pauseOnConnect: true }, (s) => {
    s.on('error', () => {});
    setTimeout(() => s.destroy(), 50);
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  t.after(() => slow.close());
  for (const [name, port] of [
    ['echo', echo.port],
    ['slow', (slow.address() as net.AddressInfo).port],
  ] as const) {
    const env = makeDeps(undefined);
    const l = await startTcpListener(spec(), env.deps);
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${port}` }] }));
    const clients = Array.from(
      { length: 150 },
      (_, i) =>
        new Promise<void>((resolve) => {
          const s = net.connect(l.port, '127.0.0.1');
          s.on('error', () => {});
          s.on('close', () => resolve());
          s.on('connect', () => {
            if (i % 3 === 0) s.resetAndDestroy();
            else {
              s.write(Buffer.alloc(100_000, i));
              s.once('data', () => s.resetAndDestroy());
              setTimeout(() => s.resetAndDestroy(), 100);
            }
          });
        }),
    );
    await Promise.all(clients);
    // close(grace) returns when the last connection ended. The grace outlives the test's own
    // timeout, so a leaked connection fails the test instead of passing slowly.
    await l.close(GRACE_BEYOND_TEST);
    const ok = await roundTrip(echo.port, 'still fine');
    assert.equal(ok.data.toString(), 'still fine', name);
  }
});

test('tcp: an IPv6 listener and upstream, and a target given by host name', async (t) => {
  const v6 = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => v6.listen(0, '::1', r));
  t.after(() => v6.close());
  const echo = await echoServer();
  t.after(echo.close);
  for (const [url, listenHost] of [
    [`tcp://[::1]:${(v6.address() as net.AddressInfo).port}`, '::1'],
    [`tcp://localhost:${echo.port}`, '127.0.0.1'],
  ] as const) {
    const env = makeDeps(undefined);
    const l = await startTcpListener(spec({ host: listenHost }), env.deps);
    t.after(() => l.close(0));
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url }] }));
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: listenHost, port: l.port, allowHalfOpen: true }, () => c.end('hello'));
      let d = '';
      c.on('data', (b) => (d += b));
      c.on('close', () => resolve(d));
      c.on('error', reject);
    });
    assert.equal(got, 'hello', `${url} via ${listenHost}`);
  }
});
