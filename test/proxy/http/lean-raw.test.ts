import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, Socket } from 'node:net';
import { test } from 'node:test';
import { type LeanExchange, LeanPool } from '../../../src/proxy/http/lean-pool.ts';
import { RawUpstream } from '../../../src/proxy/http/lean-raw.ts';
import { rawTcp } from '../../../src/proxy/tcp/raw-handle.ts';
import { freePort } from '../../helpers/proc.ts';
import { until } from './harness.ts';

/**
 * The lean path's upstream connections on bare libuv handles (lean-raw.ts). The whole HTTP suite
 * runs the lean path through them (127.0.0.1 targets); these cases pin what the pool relies on.
 */

const skip = rawTcp === undefined ? 'no raw handle API in this Node' : false;

async function upstream(
  t: { after(fn: () => unknown): void },
  onConn: (s: Socket) => void,
): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConn(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

function pool(port: number | string, idleTimeout = 60_000, dialTimeout = 0): LeanPool {
  return new LeanPool(typeof port === 'number' ? `127.0.0.1:${port}` : port, {
    dialTimeout,
    idleTimeout,
    maxIdle: 10,
    tcpKeepAlive: 60_000,
    raw: rawTcp,
  });
}

/** An exchange that records what the connection reports. */
function recorder(): LeanExchange & { data: string; closed: (Error | undefined)[] } {
  const x = {
    data: '',
    closed: [] as (Error | undefined)[],
    onData(b: Buffer) {
      x.data += b.toString('latin1');
    },
    onClose(e: Error | undefined) {
      x.closed.push(e);
    },
  };
  return x;
}

test('lean raw: IP targets get bare handles; a head written before the connect completes arrives whole, the answer reaches the exchange', {
  skip,
}, async (t) => {
  let got = '';
  const up = await upstream(t, (s) =>
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.endsWith('\r\n\r\n')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    }),
  );
  const p = pool(up.port);
  t.after(() => p.close());
  const x = recorder();
  const c = p.acquire(x);
  assert.ok(c.socket instanceof RawUpstream, 'a bare-handle connection');
  c.socket.write('GET /a HTTP/1.1\r\n', 'latin1');
  c.socket.write('Host: h\r\n\r\n', 'latin1'); // still connecting: queued behind the first part
  await until(() => x.data.endsWith('ok'));
  assert.equal(got, 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
  assert.deepEqual(x.closed, []);
});

test('lean raw: a hostname target keeps net.Socket (bare handles need an IP literal)', { skip }, () => {
  const p = pool('localhost:1');
  const c = p.acquire(recorder());
  assert.ok(c.socket instanceof Socket);
  c.socket.destroy();
  p.close();
});

test('lean raw: a pooled connection whose upstream sent FIN is never handed out again', { skip }, async (t) => {
  const up = await upstream(t, () => {});
  const p = pool(up.port);
  t.after(() => p.close());
  const x = recorder();
  const c = p.acquire(x);
  c.socket.write('GET / HTTP/1.1\r\n\r\n', 'latin1');
  await until(() => up.sockets.length === 1);
  p.release(c);
  assert.equal(p.idle, 1);
  up.sockets[0]?.end(); // FIN from the upstream while the connection waits in the pool
  await until(() => c.socket.readableEnded || c.socket.destroyed);
  const again = p.acquire(recorder());
  assert.notEqual(again, c, 'EOF seen: a new connection');
  again.socket.destroy();
  await until(() => p.idle === 0);
});

test('lean raw: idle connections expire after the idle timeout without a per-socket timer', { skip }, async (t) => {
  const up = await upstream(t, (s) => s.resume());
  const p = pool(up.port, 100);
  t.after(() => p.close());
  const c = p.acquire(recorder());
  c.socket.write('GET / HTTP/1.1\r\n\r\n', 'latin1');
  await until(() => up.sockets.length === 1);
  p.release(c);
  assert.equal(p.idle, 1);
  const s = up.sockets[0] as Socket;
  if (!s.readableEnded) await once(s, 'end'); // the pool's sweep closed it
  await until(() => p.idle === 0);
  assert.ok(c.socket.destroyed);
});

test('lean raw: a refused connect reports ECONNREFUSED to the exchange (the pipeline answers 502)', {
  skip,
}, async () => {
  const port = await freePort(); // nothing listens there
  const p = pool(port);
  const x = recorder();
  const c = p.acquire(x);
  c.socket.write('GET / HTTP/1.1\r\n\r\n', 'latin1');
  await until(() => x.closed.length === 1);
  const e = x.closed[0] as Error & { code?: string; syscall?: string };
  assert.equal(e.code, 'ECONNREFUSED');
  assert.equal(e.syscall, 'connect');
  assert.match(e.message, new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`));
  assert.equal(p.idle, 0);
  p.close();
});

test('lean raw: an upstream gone mid-answer is reported once, after the bytes it sent', { skip }, async (t) => {
  const up = await upstream(t, (s) =>
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
      s.resetAndDestroy();
    }),
  );
  const p = pool(up.port);
  t.after(() => p.close());
  const x = recorder();
  const c = p.acquire(x);
  c.socket.write('GET / HTTP/1.1\r\n\r\n', 'latin1');
  await until(() => x.closed.length === 1);
  assert.match(x.data, /partial$/);
  assert.ok(c.socket.destroyed);
  assert.equal(p.idle, 0);
  assert.equal(x.closed.length, 1); // lean-forward turns a close inside a Content-Length body into an error
});

test('lean raw: the bytes an exchange receives stay its own after later reads on other connections (the shared read buffer is copied out)', {
  skip,
}, async (t) => {
  const size = 1 << 20;
  // Two upstreams answer at once with different bytes; the exchanges keep the chunks they were
  // given (as a response waiting for the client's drain does) and look at them only at the end.
  const up = await upstream(t, (s) => {
    s.once('data', (d: Buffer) => s.end(Buffer.alloc(size, d.toString('latin1').charCodeAt(0))));
  });
  const p = pool(up.port);
  t.after(() => p.close());
  const keep = (): LeanExchange & { chunks: Buffer[]; ended: boolean } => {
    const x = {
      chunks: [] as Buffer[],
      ended: false,
      onData(b: Buffer) {
        x.chunks.push(b);
      },
      onClose() {
        x.ended = true;
      },
    };
    return x;
  };
  const xa = keep();
  const xb = keep();
  p.acquire(xa).socket.write('a', 'latin1');
  p.acquire(xb).socket.write('b', 'latin1');
  await until(() => xa.ended && xb.ended);
  for (const [x, want] of [
    [xa, 97],
    [xb, 98],
  ] as const) {
    const all = Buffer.concat(x.chunks);
    assert.equal(all.length, size);
    assert.equal(all.indexOf(want === 97 ? 98 : 97), -1, `no byte of the other answer in ${String.fromCharCode(want)}`);
    assert.ok(x.chunks.length > 1, 'read in several chunks');
  }
});
