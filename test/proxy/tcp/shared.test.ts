/**
 * The keep-alive scheduler and the relay buffer pool belong to the data plane that passes them in
 * (ProxyDeps.tcpShared, src/proxy/tcp/shared.ts), not to the module: a listener uses the instance it
 * was given, and two data planes in one process do not share state.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { KeepAliveLater } from '../../../src/proxy/tcp/keepalive.ts';
import { BUF_BYTES, BufferPool } from '../../../src/proxy/tcp/relay.ts';
import { createTcpShared } from '../../../src/proxy/tcp/shared.ts';
import { rawTcpSkip, tcpModes } from '../../helpers/support.ts';
import { echoServer, fakeTable, inMode, makeDeps, roundTrip, spec, until } from './helpers.ts';

for (const mode of tcpModes()) {
  test(`tcp (${mode}): bulk buffers go back to the pool the listener was given, not to another one`, async (t) => {
    if (mode === 'raw' && rawTcpSkip() !== undefined) return t.skip(rawTcpSkip());
    const echo = await echoServer({ halfOpen: true });
    t.after(() => echo.close());
    const env = makeDeps(undefined);
    const mine = createTcpShared();
    const other = createTcpShared();
    const l = await startTcpListener(spec(), { ...inMode(env.deps, mode), tcpShared: mine });
    t.after(() => l.close(0));
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
    const payload = Buffer.alloc(2 * 1024 * 1024, 7);
    const r = await roundTrip(l.port, payload, 20_000);
    assert.equal(r.data.length, payload.length, 'echoed in full');
    await until(() => mine.buffers.size > 0);
    assert.equal(other.buffers.size, 0, 'another data plane saw nothing');
  });

  test(`tcp (${mode}): an open upstream waits in the given keep-alive scheduler, and leaves it on close`, async (t) => {
    if (mode === 'raw' && rawTcpSkip() !== undefined) return t.skip(rawTcpSkip());
    const echo = await echoServer();
    t.after(() => echo.close());
    const env = makeDeps(undefined);
    const mine = createTcpShared();
    const l = await startTcpListener(spec(), { ...inMode(env.deps, mode), tcpShared: mine });
    t.after(() => l.close(0));
    env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
    const c = net.connect(l.port, '127.0.0.1');
    c.on('error', () => {});
    await new Promise<void>((resolve) => {
      c.once('data', () => resolve());
      c.write('x');
    });
    assert.equal(mine.keepAlive.pending, 1, 'the connected upstream waits for its keep-alive');
    c.destroy();
    await until(() => mine.keepAlive.pending === 0);
  });
}

test('BufferPool keeps at most its maximum and hands released buffers out again', () => {
  const pool = new BufferPool(2);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.equal(a.length, BUF_BYTES);
  pool.release(a);
  pool.release(b);
  pool.release(c);
  pool.release(undefined);
  assert.equal(pool.size, 2);
  const again = pool.take();
  assert.ok(again === b || again === a, 'a released buffer is reused');
});

test('KeepAliveLater switches on a socket still open after a sweep, never a forgotten one', async () => {
  const k = new KeepAliveLater(5);
  const calls: string[] = [];
  const sock = (name: string) => ({
    destroyed: false,
    setKeepAlive: (on: boolean, ms: number) => calls.push(`${name} ${on} ${ms}`),
  });
  const open = sock('open');
  const gone = sock('gone');
  k.later(open, 15_000);
  k.later(gone, 15_000);
  k.forget(gone);
  assert.equal(k.pending, 1);
  await until(() => calls.length > 0);
  assert.deepEqual(calls, ['open true 15000'], 'same generation: the forgotten socket was not touched');
  assert.equal(k.pending, 0);
});
