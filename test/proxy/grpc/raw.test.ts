// Hostile and edge cases of the gRPC proxy with raw node:http2 peers, where the test controls every
// frame: the proxy's own deadline, back-pressure, resets, trailers-only answers, message limits,
// graceful shutdown and the retirement of pooled upstream sessions.
import assert from 'node:assert/strict';
import http2, {
  type ClientHttp2Stream,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { buildTable } from '../../../src/routes/index.ts';
import { until } from '../../helpers/proc.ts';
import { client, type Proxy, startBackend, startProxy, TABLE_OPTS, unary } from './harness.ts';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** A raw h2c backend: `onStream` decides what each stream gets. */
async function rawBackend(onStream: (s: ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void) {
  const server: Http2Server = http2.createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    onStream(s, h);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    sessions,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A raw h2c client stream to the proxy (grpc framing by hand). */
function rawCall(p: Proxy, path: string, extra: http2.OutgoingHttpHeaders = {}) {
  const session = http2.connect(`http://${p.addr}`);
  session.on('error', () => {});
  const stream: ClientHttp2Stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...extra,
  });
  stream.on('error', () => {});
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
    stream.on('response', (h, flags) => {
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) resolve(h);
    });
    stream.on('trailers', (t) => resolve(t));
  });
  const closed = new Promise<number>((r) => stream.on('close', () => r(stream.rstCode ?? 0)));
  return { session, stream, trailers, closed };
}

function frame(len: number, fill = 0x61): Buffer {
  const b = Buffer.alloc(5 + len, fill);
  b[0] = 0;
  b.writeUInt32BE(len, 1);
  return b;
}

test('the proxy enforces grpc-timeout itself: DEADLINE_EXCEEDED, upstream stream cancelled', async (t) => {
  let upstreamClosed!: () => void;
  const cancelled = new Promise<void>((r) => {
    upstreamClosed = r;
  });
  let seenTimeout = '';
  const b = await rawBackend((s, h) => {
    seenTimeout = String(h['grpc-timeout']);
    s.on('close', () => upstreamClosed()); // never answers
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`);
  t.after(() => p.listener.close(0));
  // a client that does not enforce its own deadline
  const c = rawCall(p, '/pkg.Svc/Call', { 'grpc-timeout': '200m' });
  t.after(() => c.session.destroy());
  c.stream.end(frame(3));
  const tr = await c.trailers;
  assert.equal(tr['grpc-status'], '4');
  assert.equal(seenTimeout, '200m');
  await cancelled;
});

test('trailers-only upstream answer passes through; an upstream reset mid-response resets the client', async (t) => {
  const b = await rawBackend((s, h) => {
    if (h[':path'] === '/pkg.Svc/Denied') {
      s.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'go%20away' },
        { endStream: true },
      );
      return;
    }
    s.respond({ ':status': 200, 'content-type': 'application/grpc' });
    s.write(frame(4), () => s.close(NGHTTP2_INTERNAL_ERROR));
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`);
  t.after(() => p.listener.close(0));

  const denied = rawCall(p, '/pkg.Svc/Denied');
  t.after(() => denied.session.destroy());
  denied.stream.end(frame(1));
  const tr = await denied.trailers;
  assert.equal(tr['grpc-status'], '7');
  assert.equal(tr['grpc-message'], 'go%20away');

  const reset = rawCall(p, '/pkg.Svc/Reset');
  t.after(() => reset.session.destroy());
  let got = 0;
  reset.stream.on('data', (d: Buffer) => {
    got += d.length;
  });
  reset.stream.end(frame(1));
  const code = await reset.closed;
  assert.notEqual(code, 0, 'client stream reset');
  assert.equal(got, 9, 'data before the reset was forwarded');
});

test('message size limits: RESOURCE_EXHAUSTED both ways', async (t) => {
  const b = await startBackend();
  t.after(() => b.close());
  const routes = `route add echo /test.echo.Echo grpc://127.0.0.1:${b.port}`;
  const rx = await startProxy(routes, { cfg: { 'proxy.grpcmaxrxmsgsize': '1024' } });
  t.after(() => rx.listener.close(0));
  const c1 = client(rx.addr);
  t.after(() => c1.close());
  assert.equal((await unary(c1, { text: 'small' })).res?.text, 'b1:small');
  const big = await unary(c1, { text: 'x', blob: Buffer.alloc(2000) });
  assert.equal(big.err?.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(big.err?.details ?? '', /larger than max \(\d+ vs\. 1024\)/);

  const tx = await startProxy(routes, { cfg: { 'proxy.grpcmaxtxmsgsize': '1024' } });
  t.after(() => tx.listener.close(0));
  const c2 = client(tx.addr);
  t.after(() => c2.close());
  const r = await unary(c2, { text: 'x', blob: Buffer.alloc(2000) });
  assert.equal(r.err?.code, grpc.status.RESOURCE_EXHAUSTED);
});

test('back-pressure: a client that does not read stops the upstream instead of growing memory', async (t) => {
  const TOTAL = 64 * 1024 * 1024;
  const chunk = frame(1024 * 1024 - 5);
  let sent = 0;
  let blocked = 0; // consecutive polls that found the backend waiting for 'drain'
  let waiting = false;
  const b = await rawBackend((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    const pump = () => {
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!s.write(chunk)) {
          waiting = true;
          s.once('drain', () => {
            waiting = false;
            pump();
          });
          return;
        }
      }
      s.end();
    };
    pump();
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`, {
    cfg: { 'proxy.grpcmaxrxmsgsize': String(2 * 1024 * 1024) },
  });
  t.after(() => p.listener.close(0));
  const c = rawCall(p, '/pkg.Svc/Flood');
  t.after(() => c.session.destroy());
  c.stream.pause();
  c.stream.end(frame(1));
  // The backend must end up stuck on 'drain' with most of the data unsent; without back-pressure
  // the proxy reads everything and the backend finishes.
  await until(
    async () => {
      blocked = waiting ? blocked + 1 : 0;
      return blocked >= 20 || sent >= TOTAL;
    },
    30000,
    20,
  );
  assert.ok(sent < TOTAL / 4, `backend sent ${sent} bytes while the client read nothing`);
  // and everything arrives once the client reads
  let got = 0;
  c.stream.on('data', (d: Buffer) => {
    got += d.length;
  });
  c.stream.resume();
  const tr = await c.trailers;
  assert.equal(tr['grpc-status'], '0');
  assert.equal(got, sent);
});

test('graceful shutdown: a stream in flight finishes, new connections are refused', async (t) => {
  const b = await startBackend();
  t.after(() => b.close());
  const p = await startProxy(`route add echo /test.echo.Echo grpc://127.0.0.1:${b.port}`);
  const c = client(p.addr);
  t.after(() => c.close());
  let closed = false;
  let res: { text?: string } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    const call = c.ClientStream((e: grpc.ServiceError | null, m: { text?: string }) => {
      if (e) reject(e);
      res = m;
      resolve();
    });
    call.write({ text: 'before' });
    // wait until the stream reached the backend, then start the shutdown and finish the call
    setImmediate(async () => {
      await until(async () => b.ev.lastMeta !== undefined, 5000);
      const closing = p.listener.close(30_000).then(() => {
        closed = true;
      });
      call.write({ text: 'during' });
      call.end();
      await closing;
    });
  });
  await done;
  assert.equal(res?.text, 'before,during');
  await until(async () => closed, 10000);
  const late = client(p.addr);
  t.after(() => late.close());
  const r = await unary(late, { text: 'x' }, new grpc.Metadata(), { deadline: Date.now() + 2000 });
  assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
});

test('a pooled upstream session closes after proxy.grpcshutdowntimeout once its target left the table', async (t) => {
  const b = await rawBackend((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
  });
  t.after(() => b.close());
  const routes = `route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`;
  const p = await startProxy(routes, { cfg: { 'proxy.grpcshutdowntimeout': '50ms' } });
  t.after(() => p.listener.close(0));
  const c = rawCall(p, '/pkg.Svc/Call');
  t.after(() => c.session.destroy());
  c.stream.end(frame(1));
  assert.equal((await c.trailers)['grpc-status'], '0');
  assert.equal(b.sessions.size, 1);
  // the same route text again: the session stays (checked after a later swap that drops it)
  p.store.swap(buildTable(`${routes}\n`, TABLE_OPTS));
  assert.equal(b.sessions.size, 1);
  p.store.swap(buildTable('', TABLE_OPTS));
  await until(async () => b.sessions.size === 0, 10000);
});

test('back-pressure: an upstream that does not read stops the client instead of growing memory', async (t) => {
  const TOTAL = 64 * 1024 * 1024;
  const chunk = frame(1024 * 1024 - 5);
  let upstream: ServerHttp2Stream | undefined;
  const b = await rawBackend((s) => {
    upstream = s;
    s.pause(); // reads nothing until told
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    let got = 0;
    s.on('data', (d: Buffer) => {
      got += d.length;
    });
    s.on('end', () => {
      const text = Buffer.from(`${got}`);
      const f = frame(text.length);
      text.copy(f, 5);
      s.end(f);
    });
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`, {
    cfg: { 'proxy.grpcmaxrxmsgsize': String(2 * 1024 * 1024) },
  });
  t.after(() => p.listener.close(0));
  const c = rawCall(p, '/pkg.Svc/Upload');
  t.after(() => c.session.destroy());
  let sent = 0;
  let waiting = false;
  let blocked = 0;
  const pump = () => {
    while (sent < TOTAL) {
      sent += chunk.length;
      if (!c.stream.write(chunk)) {
        waiting = true;
        c.stream.once('drain', () => {
          waiting = false;
          pump();
        });
        return;
      }
    }
    c.stream.end();
  };
  pump();
  await until(
    async () => {
      blocked = waiting ? blocked + 1 : 0;
      return blocked >= 20 || sent >= TOTAL;
    },
    30000,
    20,
  );
  assert.ok(sent < TOTAL / 4, `client sent ${sent} bytes while the upstream read nothing`);
  let body = '';
  c.stream.on('data', (d: Buffer) => {
    body += d.toString();
  });
  upstream?.resume();
  const tr = await c.trailers;
  assert.equal(tr['grpc-status'], '0');
  assert.equal(body.slice(5), String(TOTAL));
});

test('trace metadata: the route trace at TRACE level, as the Trace header does for HTTP', async (t) => {
  const b = await rawBackend((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`, { logLevel: 'TRACE' });
  t.after(() => p.listener.close(0));
  const c = rawCall(p, '/pkg.Svc/Call', { trace: 'abc-12345678901234567890' });
  t.after(() => c.session.destroy());
  c.stream.end(frame(1));
  assert.equal((await c.trailers)['grpc-status'], '0');
  assert.ok(p.log.lines.includes('[TRACE] abc-123456789012 Tracing /pkg.Svc/Call'), p.log.lines.join('\n'));
  assert.ok(
    p.log.lines.includes(`[TRACE] abc-123456789012 Routing to service svc on grpc://127.0.0.1:${b.port}`),
    p.log.lines.join('\n'),
  );
});

test('shutdown: a stream still running when the grace period ends is cancelled upstream', async (t) => {
  const b = await startBackend();
  t.after(() => b.close());
  const p = await startProxy(`route add echo /test.echo.Echo grpc://127.0.0.1:${b.port}`);
  const c = client(p.addr);
  t.after(() => c.close());
  const hanging = new Promise((r) => b.ev.once('hanging', r));
  const cancelled = new Promise((r) => b.ev.once('cancelled', r));
  const result = unary(c, { text: 'hang' });
  await hanging;
  await p.listener.close(100);
  await cancelled;
  const r = await result;
  assert.ok(
    r.err?.code === grpc.status.CANCELLED ||
      r.err?.code === grpc.status.UNAVAILABLE ||
      r.err?.code === grpc.status.INTERNAL,
    `client got ${r.err?.code} ${r.err?.details}`,
  );
});

test('pxyproto=true: the PROXY header is read, then the connection is served as gRPC', async (t) => {
  const b = await rawBackend((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
  });
  t.after(() => b.close());
  const p = await startProxy(`route add svc /pkg.Svc grpc://127.0.0.1:${b.port}`, {
    cfg: { 'proxy.addr': '127.0.0.1:0;proto=grpc;pxyproto=true' },
  });
  t.after(() => p.listener.close(0));
  const session = http2.connect(`http://${p.addr}`, {
    createConnection: () => {
      const sock = netConnect(p.listener.port, '127.0.0.1');
      sock.write('PROXY TCP4 192.0.2.1 127.0.0.1 40000 9999\r\n');
      return sock;
    },
  });
  session.on('error', () => {});
  t.after(() => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc' });
  stream.end(frame(1));
  const h = await new Promise<http2.IncomingHttpHeaders>((r) => stream.on('response', r));
  assert.equal(h['grpc-status'], '0');
});

test('no route while the client keeps sending: NOT_FOUND, and the rest is read and dropped', async (t) => {
  const p = await startProxy('');
  t.after(() => p.listener.close(0));
  const c = rawCall(p, '/nope.Svc/Upload');
  t.after(() => c.session.destroy());
  const TOTAL = 16 * 1024 * 1024;
  const chunk = frame(64 * 1024 - 5);
  let sent = 0;
  const pump = () => {
    while (sent < TOTAL) {
      sent += chunk.length;
      if (!c.stream.write(chunk)) {
        c.stream.once('drain', pump);
        return;
      }
    }
    c.stream.end();
  };
  pump();
  const tr = await c.trailers;
  assert.equal(tr['grpc-status'], '5');
  assert.equal(tr['grpc-message'], 'no route found');
  // the client is never left blocked on a stream nobody reads
  await until(async () => sent >= TOTAL && c.stream.writableFinished, 30000);
});
