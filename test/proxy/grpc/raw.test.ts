// Hostile and edge cases of the gRPC proxy with raw node:http2 peers, where the test controls every
// frame: the proxy's own deadline, resets, trailers-only answers, message limits, trace, pxyproto,
// graceful shutdown and the retirement of pooled upstream sessions.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { buildTable } from '../../../src/routes/index.ts';
import { until } from '../../helpers/proc.ts';
import { client, startBackend, startProxy, TABLE_OPTS, unary } from './harness.ts';
import { frame, rawBackend, rawCall } from './raw-peers.ts';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

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
