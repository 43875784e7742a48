// Back-pressure through the gRPC proxy, both directions, with raw node:http2 peers: a side that does
// not read must hold back the side that writes (HTTP/2 flow control), never fill the proxy's memory.
import assert from 'node:assert/strict';
import type { ServerHttp2Stream } from 'node:http2';
import { test } from 'node:test';
import { until } from '../../helpers/proc.ts';
import { startProxy } from './harness.ts';
import { frame, rawBackend, rawCall } from './raw-peers.ts';

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
