import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { parseListeners } from '../../src/config/index.ts';
import { listenFailure, listenReason } from '../../src/runtime/listen-error.ts';

const specs = (addr: string) => parseListeners(addr, { readTimeout: 0, writeTimeout: 0, certSources: new Map() });

/** The real error Node gives for a port another server holds. */
async function inUse(): Promise<{ err: Error; port: number }> {
  const a = createServer();
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
  const port = (a.address() as { port: number }).port;
  const b = createServer();
  const err = await new Promise<Error>((r) => {
    b.on('error', r);
    b.listen(port, '127.0.0.1');
  });
  a.close();
  return { err, port };
}

test('listenReason: the C library words, without Node prefix or address', async () => {
  const { err } = await inUse();
  assert.equal(listenReason(err), 'address already in use');
  // what a cluster worker receives from the primary
  const cluster = Object.assign(new Error('bind EADDRINUSE 127.0.0.1:9999'), { code: 'EADDRINUSE' });
  assert.equal(listenReason(cluster), 'address already in use');
  assert.equal(listenReason(new Error('listen EPERM: operation not permitted 0.0.0.0:80')), 'operation not permitted');
  assert.equal(listenReason('odd'), 'odd');
});

test('listenFailure names the listener as written and its protocol', async () => {
  const { err, port } = await inUse();
  const list = specs(`127.0.0.1:${port + 1};proto=tcp,127.0.0.1:${port}`);
  assert.equal(listenFailure(err, list), `HTTP proxy cannot listen on 127.0.0.1:${port}: address already in use`);
  assert.equal(
    listenFailure(err, specs(`127.0.0.1:${port};proto=tcp+sni`)),
    `TCP+SNI proxy cannot listen on 127.0.0.1:${port}: address already in use`,
  );
  assert.equal(
    listenFailure(err, specs(`127.0.0.1:${port}`), 'Admin server'),
    `Admin server cannot listen on 127.0.0.1:${port}: address already in use`,
  );
  // no listener with that port: the error's own address
  assert.equal(listenFailure(err, []), `cannot listen on 127.0.0.1:${port}: address already in use`);
  // not a bind error (a certificate that cannot be read, say)
  assert.equal(listenFailure(new Error('no such file'), list), 'cannot start listeners: no such file');
});
