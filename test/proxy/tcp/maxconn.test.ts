import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { startSniListener, startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { rawTcpFromEnv } from '../../../src/proxy/tcp/raw-handle.ts';
import { echoServer, fakeTable, inMode, makeDeps, spec, until } from './helpers.ts';

/**
 * proxy.listener.maxconn: a TCP-family listener keeps at most that many connections open; one over
 * it is closed at accept, counted (tcp.refused / tcp_sni.refused) and logged once per episode.
 */

const modes = rawTcpFromEnv(process.env) !== undefined ? (['raw', 'net'] as const) : (['net'] as const);

/** A connection that sends `ping` and resolves once the echo came back (so the proxy spliced it). */
async function held(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  s.write('ping');
  await new Promise((resolve, reject) => {
    s.once('data', resolve);
    s.once('close', () => reject(new Error('closed before the echo')));
  });
  return s;
}

/** A connection over the cap: resolves with what it read before the proxy closed it. */
function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('ping'));
    s.on('error', () => {});
    s.setTimeout(10_000, () => s.destroy()); // fail the test rather than hang it
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
}

async function capped(t: TestContext, mode: 'raw' | 'net', max: number) {
  const echo = await echoServer();
  t.after(echo.close);
  const env = makeDeps(undefined, { 'proxy.listener.maxconn': max });
  const l = await startTcpListener(spec(), inMode(env.deps, mode));
  t.after(() => l.close(0));
  env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
  return { ...env, l };
}

for (const mode of modes)
  test(`tcp maxconn (${mode}): connections over the cap are closed at once, counted, logged once per episode`, async (t) => {
    const { l, metrics, log } = await capped(t, mode, 3);
    const open = await Promise.all([held(l.port), held(l.port), held(l.port)]);
    t.after(() => {
      for (const s of open) s.destroy();
    });
    for (let i = 0; i < 5; i++) assert.equal(await refused(l.port), '', 'over the cap: closed without a byte');
    assert.equal(metrics.counts['tcp.refused'], 5);
    const warn = log.lines.filter((x) => x.includes('proxy.listener.maxconn'));
    assert.deepEqual(warn, [
      `[WARN] tcp: 127.0.0.1:${l.port} has proxy.listener.maxconn=3 connections open, closing new connections`,
    ]);
    // the episode ends when the open connections fall below 90 % of the cap
    for (const s of open) s.destroy();
    await until(() => log.lines.some((x) => x.includes('accepting connections again')), 10_000);
    assert.ok(
      log.lines.includes(
        `[INFO] tcp: 127.0.0.1:${l.port} accepting connections again (5 closed over proxy.listener.maxconn)`,
      ),
      log.lines.join('\n'),
    );
    // a second episode logs again, once: fill the listener (some of the first connections may
    // still be closing) until one is refused
    const full: net.Socket[] = [];
    t.after(() => {
      for (const s of full) s.destroy();
    });
    for (let i = 0; i < 10; i++) {
      const s = await held(l.port).catch(() => undefined);
      if (s === undefined) break;
      full.push(s);
    }
    assert.ok(full.length >= 1 && full.length <= 3, `${full.length} connections admitted`);
    assert.equal(await refused(l.port), '');
    assert.equal(metrics.counts['tcp.refused'], 7);
    assert.equal(log.lines.filter((x) => x.includes('closing new connections')).length, 2);
  });

test('tcp+sni maxconn: the cap applies to SNI listeners too (tcp_sni.refused)', async (t) => {
  const env = makeDeps(fakeTable({}), { 'proxy.listener.maxconn': 1 });
  const l = await startSniListener(spec({ proto: 'tcp+sni' }), env.deps);
  t.after(() => l.close(0));
  // a client that never sends its hello holds the one slot
  const holder = net.connect({ port: l.port, host: '127.0.0.1' });
  holder.on('error', () => {});
  t.after(() => holder.destroy());
  await new Promise((r) => holder.once('connect', r));
  await until(() => env.metrics.counts['tcp_sni.conn'] === 1);
  assert.equal(await refused(l.port), '');
  assert.equal(env.metrics.counts['tcp_sni.refused'], 1);
  assert.ok(env.log.lines.some((x) => x.startsWith('[WARN] tcp+sni: ') && x.includes('maxconn=1')));
});
