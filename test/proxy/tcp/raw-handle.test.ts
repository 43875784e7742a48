import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closeHandle, rawTcp, shutdownHandle, type TcpHandle } from '../../../src/proxy/tcp/raw-handle.ts';
import { until } from '../../helpers/proc.ts';
import { rawTcpExemption } from '../../helpers/support.ts';

/** A connected pair: the accepted side as a bare handle (taken from its net.Socket), the client as a net.Socket. */
async function pair(t: import('node:test').TestContext): Promise<{ h: TcpHandle; peer: net.Socket }> {
  let take!: (h: TcpHandle) => void;
  const taken = new Promise<TcpHandle>((r) => (take = r));
  const srv = net.createServer({ pauseOnConnect: true }, (s) => {
    const own = s as unknown as { _handle: TcpHandle | null };
    const h = own._handle as TcpHandle;
    own._handle = null; // the handle is ours now, net.Socket no longer touches it
    take(h);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const peer = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => peer.destroy());
  return { h: await taken, peer };
}

/** How the peer saw its connection end: 'end' (FIN) or the error code (an RST gives ECONNRESET). */
function ending(peer: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    peer.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    peer.on('end', () => resolve('end'));
    peer.resume();
  });
}

/** closeHandle(h, rst), resolved when its close callback ran (bounded: a handle never closed fails). */
async function closed(h: TcpHandle, rst: boolean): Promise<void> {
  let done = false;
  closeHandle(h, rst, () => (done = true));
  await until(() => done);
}

test('raw handles: an RST asked for while a shutdown is in flight still closes the handle', {
  skip: rawTcpExemption ?? false,
}, async (t) => {
  // Node's reset() marks the handle closing before libuv refuses it (EINVAL while shutting down);
  // close() is then a no-op: before closeHandle checked for a pending shutdown, the close callback
  // never ran, the fd stayed open and the process spun at exit waiting for the handle.
  const raw = rawTcp!;
  const { h, peer } = await pair(t);
  const ended = ending(peer);
  let shut: number | undefined;
  assert.equal(
    shutdownHandle(raw, h, (s) => (shut = s)),
    0,
  );
  await closed(h, true);
  // the FIN of the shutdown (or the close) reached the peer; no RST was attempted
  assert.equal(await ended, 'end');
  assert.notEqual(shut, undefined, 'the shutdown request completed (cancelled or done)');
});

test('raw handles: without a pending shutdown closeHandle(rst) resets, and after a finished one too', {
  skip: rawTcpExemption ?? false,
}, async (t) => {
  const raw = rawTcp!;
  {
    const { h, peer } = await pair(t);
    const ended = ending(peer);
    await closed(h, true);
    assert.equal(await ended, 'ECONNRESET');
  }
  {
    const { h, peer } = await pair(t);
    const ended = ending(peer);
    let shut: number | undefined;
    assert.equal(
      shutdownHandle(raw, h, (s) => (shut = s)),
      0,
    );
    await until(() => shut !== undefined);
    assert.equal(shut, 0);
    await closed(h, true);
    // the FIN already went out: the peer has its 'end'; the reset itself was accepted
    assert.equal(await ended, 'end');
  }
});
