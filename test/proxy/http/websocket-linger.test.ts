import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { backend, proxy, until } from './harness.ts';

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: a.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';

interface Tunnel {
  client: Socket;
  upstream: Socket;
  clientData(): string;
  upstreamData(): string;
  clientClosed(): boolean;
  /** The backend saw the proxy's FIN or a close. */
  upstreamEnded(): boolean;
  /** Resolves once the proxy fully closed its upstream socket (a backend write then fails). */
  upstreamGone(): Promise<void>;
  metrics: { ws: number };
}

/** A raw client tunnelled through the proxy to a backend socket that does only what the test says. */
async function tunnel(t: TestContext, linger: string): Promise<Tunnel> {
  const be = await backend(t, () => {});
  const up = new Promise<Socket>((resolve) => {
    be.server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => {});
      socket.write(SWITCHED);
      resolve(socket);
    });
  });
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.lingertimeout': linger });
  const client = connect(p.port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await once(client, 'connect');
  client.write(UPGRADE);
  const upstream = await up;
  let cd = '';
  let ud = '';
  let cc = false;
  let uc = false;
  let ue = false;
  client.on('data', (d: Buffer) => {
    cd += d.toString('latin1');
  });
  upstream.on('data', (d: Buffer) => {
    ud += d.toString('latin1');
  });
  client.on('close', () => {
    cc = true;
  });
  upstream.on('close', () => {
    uc = true;
  });
  upstream.on('end', () => {
    ue = true;
  });
  await until(() => cd.startsWith('HTTP/1.1 101'));
  return {
    client,
    upstream,
    clientData: () => cd,
    upstreamData: () => ud,
    clientClosed: () => cc,
    upstreamEnded: () => ue || uc,
    // A half-open backend socket keeps accepting writes only while the proxy still holds its end.
    upstreamGone: () =>
      until(() => {
        if (!uc && upstream.writable) upstream.write('.');
        return uc;
      }, 10_000),
    metrics: p.metrics,
  };
}

test('websocket linger: after the client ended, the upstream may still send, then both close', {
  timeout: 20_000,
}, async (t) => {
  const w = await tunnel(t, '300ms');
  // The backend never closes on its own: only the proxy's linger can end this tunnel.
  w.upstream.on('end', () => w.upstream.write('late'));
  w.client.end();
  await until(() => w.clientData().endsWith('late'));
  await until(() => w.clientClosed() && w.metrics.ws === 0, 10_000);
  await w.upstreamGone();
});

test('websocket linger: after the upstream ended, the client may still send, then both close', {
  timeout: 20_000,
}, async (t) => {
  const w = await tunnel(t, '300ms');
  w.client.on('end', () => w.client.write('late'));
  w.upstream.end();
  await until(() => w.upstreamData().endsWith('late'));
  await until(() => w.clientClosed() && w.metrics.ws === 0, 10_000);
  await w.upstreamGone();
});

test('websocket linger 0: one side ending closes both at once', { timeout: 20_000 }, async (t) => {
  const w = await tunnel(t, '0s');
  w.upstream.on('end', () => w.upstream.write('late'));
  w.client.end();
  await until(() => w.clientClosed() && w.metrics.ws === 0, 10_000);
  assert.ok(!w.clientData().includes('late'));
  await w.upstreamGone();
});

test('websocket: a client reset destroys the upstream at once, even within a long linger', {
  timeout: 20_000,
}, async (t) => {
  const w = await tunnel(t, '1h');
  w.client.write('x');
  await until(() => w.upstreamData() === 'x');
  w.client.resetAndDestroy();
  await until(() => w.upstreamEnded(), 10_000);
  await until(() => w.metrics.ws === 0);
});

test('websocket: an upstream reset destroys the client at once, even after a half-close', {
  timeout: 20_000,
}, async (t) => {
  const w = await tunnel(t, '1h');
  w.client.end(); // linger running (an hour)
  await once(w.upstream, 'end');
  w.upstream.resetAndDestroy();
  await until(() => w.clientClosed(), 10_000);
  await until(() => w.metrics.ws === 0);
});

test('websocket: both sides ending closes the tunnel without waiting for the linger', {
  timeout: 20_000,
}, async (t) => {
  const w = await tunnel(t, '1h');
  w.upstream.on('end', () => w.upstream.end());
  w.client.end();
  await until(() => w.clientClosed() && w.upstreamEnded(), 10_000);
  await until(() => w.metrics.ws === 0);
});
