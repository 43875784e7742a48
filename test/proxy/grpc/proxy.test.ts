// The gRPC proxy end to end in one process: a real @grpc/grpc-js client and server on both sides of
// a proto=grpc (h2c) and a proto=grpcs (TLS) listener, every call shape, errors, metadata, deadlines.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type CertSet, makeCerts } from '../../helpers/certs.ts';
import { type Client, client, type Msg, type Proxy, startBackend, startProxy, unary } from './harness.ts';

let certs: CertSet;
before(async () => {
  certs = await makeCerts([['proxy.test']]);
});
after(() => certs.cleanup());

for (const proto of ['grpc', 'grpcs'] as const) {
  describe(`proto=${proto}`, () => {
    let backend: Awaited<ReturnType<typeof startBackend>>;
    let proxy: Proxy;
    let c: Client;
    before(async () => {
      backend = await startBackend();
      proxy = await startProxy(
        [
          `route add echo /test.echo.Echo grpc://127.0.0.1:${backend.port}`,
          `route add other api.example/test.echo.Echo grpc://127.0.0.1:${backend.port}`,
        ].join('\n'),
        {
          proto,
          cfg: { 'proxy.cs': `cs=c1;type=file;cert=${certs.certs[0]!.certFile};key=${certs.certs[0]!.keyFile}` },
        },
      );
      c =
        proto === 'grpc'
          ? client(proxy.addr)
          : client(proxy.addr, grpc.credentials.createSsl(Buffer.from(certs.ca.pem)), {
              'grpc.ssl_target_name_override': 'proxy.test',
            });
    });
    after(async () => {
      c.close();
      await proxy.listener.close(0);
      await backend.close();
    });

    test('unary with metadata both ways', async () => {
      const meta = new grpc.Metadata();
      meta.set('x-in', 'hello-meta');
      const r = await unary(c, { text: 'hi', blob: Buffer.from([0, 1, 2]) }, meta);
      assert.equal(r.err, undefined, r.err?.message);
      assert.equal(r.res?.text, 'b1:hi');
      assert.deepEqual([...(r.res?.blob ?? [])], [0, 1, 2]);
      assert.deepEqual(r.headers?.get('x-out'), ['hello-meta']);
      assert.equal(r.status?.code, grpc.status.OK);
    });

    test('dsthost metadata selects the host route and is passed upstream', async () => {
      const meta = new grpc.Metadata();
      meta.set('dsthost', 'api.example');
      const r = await unary(c, { text: 'dsthost' }, meta);
      assert.equal(r.res?.text, 'api.example');
    });

    test('server streaming', async () => {
      const got: string[] = [];
      const call = c.ServerStream({ text: 's', count: 50 });
      call.on('data', (m: Msg) => got.push(m.text ?? ''));
      const st = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
      assert.equal(st.code, grpc.status.OK);
      assert.equal(got.length, 50);
      assert.equal(got[49], 's49');
    });

    test('client streaming', async () => {
      const res = await new Promise<Msg>((resolve, reject) => {
        const call = c.ClientStream((e: grpc.ServiceError | null, m: Msg) => (e ? reject(e) : resolve(m)));
        for (const t of ['a', 'b', 'c']) call.write({ text: t });
        call.end();
      });
      assert.equal(res.text, 'a,b,c');
      assert.equal(res.count, 3);
    });

    test('bidi streaming, then an error status mid-stream', async () => {
      const call = c.Bidi();
      const got: string[] = [];
      call.on('data', (m: Msg) => {
        got.push(m.text ?? '');
        if (got.length < 3) call.write({ text: `m${got.length}` });
        else call.write({ text: 'boom' });
      });
      call.on('error', () => {});
      call.write({ text: 'm0' });
      const st = await new Promise<grpc.StatusObject>((r) => call.on('status', r));
      assert.deepEqual(got, ['echo:m0', 'echo:m1', 'echo:m2']);
      assert.equal(st.code, grpc.status.ABORTED);
      assert.equal(st.details, 'aborted mid-stream');
    });

    test('error code, message and trailing metadata reach the client', async () => {
      const r = await unary(c, { text: 'fail' });
      assert.equal(r.err?.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(r.err?.details, 'bad input');
      assert.deepEqual(r.status?.metadata.get('x-detail'), ['why']);
    });

    test('deadline: DEADLINE_EXCEEDED and the backend sees the deadline and the cancellation', async () => {
      const before = backend.ev.cancelled;
      const cancelled = new Promise((r) => backend.ev.once('cancelled', r));
      const r = await unary(c, { text: 'hang' }, new grpc.Metadata(), { deadline: Date.now() + 300 });
      assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
      await cancelled;
      assert.equal(backend.ev.cancelled, before + 1);
      assert.notEqual(backend.ev.lastDeadline, Number.POSITIVE_INFINITY, 'grpc-timeout reached the backend');
    });

    test('client cancel closes the upstream stream', async () => {
      const hanging = new Promise((r) => backend.ev.once('hanging', r));
      const cancelled = new Promise((r) => backend.ev.once('cancelled', r));
      const call = c.Unary({ text: 'hang' }, () => {});
      await hanging;
      call.cancel();
      await cancelled;
    });

    test('no route: NOT_FOUND "no route found"', async () => {
      const meta = new grpc.Metadata();
      meta.set('dsthost', 'unknown.example');
      const r = await new Promise<grpc.ServiceError | null>((resolve) =>
        c.makeUnaryRequest(
          '/nope.Svc/Call',
          (x: Buffer) => x,
          (x: Buffer) => x,
          Buffer.alloc(0),
          meta,
          (e: grpc.ServiceError | null) => resolve(e),
        ),
      );
      assert.equal(r?.code, grpc.status.NOT_FOUND);
      assert.equal(r?.details, 'no route found');
    });
  });
}

test('an upstream that is down: UNAVAILABLE', async (t) => {
  const b = await startBackend();
  const port = b.port;
  await b.close();
  const p = await startProxy(`route add echo /test.echo.Echo grpc://127.0.0.1:${port}`);
  t.after(() => p.listener.close(0));
  const c = client(p.addr);
  t.after(() => c.close());
  const r = await unary(c, { text: 'x' });
  assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
  assert.match(r.err?.details ?? '', /upstream 127\.0\.0\.1:\d+/);
});

test('grpcs:// upstream over TLS with grpcservername, verified against the CA', async (t) => {
  const certs2 = await makeCerts([['backend.internal']]);
  t.after(() => certs2.cleanup());
  const leaf = certs2.certs[0]!;
  const b = await startBackend(
    grpc.ServerCredentials.createSsl(null, [
      { cert_chain: Buffer.from(leaf.pem), private_key: Buffer.from(leaf.keyPem) },
    ]),
    'tls-backend',
  );
  t.after(() => b.close());
  const route = (opts: string) => `route add echo /test.echo.Echo grpcs://127.0.0.1:${b.port} opts "${opts}"`;
  const good = await startProxy(route('grpcservername=backend.internal'), { upstreamCa: certs2.ca.pem });
  t.after(() => good.listener.close(0));
  const c1 = client(good.addr);
  t.after(() => c1.close());
  assert.equal((await unary(c1, { text: 'x' })).res?.text, 'tls-backend:x');

  // wrong name: verification fails, the call fails
  const bad = await startProxy(route('grpcservername=other.internal'), { upstreamCa: certs2.ca.pem });
  t.after(() => bad.listener.close(0));
  const c2 = client(bad.addr);
  t.after(() => c2.close());
  assert.equal((await unary(c2, { text: 'x' })).err?.code, grpc.status.UNAVAILABLE);

  // tlsskipverify=true: no CA, no name, still works
  const skip = await startProxy(route('tlsskipverify=true'));
  t.after(() => skip.listener.close(0));
  const c3 = client(skip.addr);
  t.after(() => c3.close());
  assert.equal((await unary(c3, { text: 'y' })).res?.text, 'tls-backend:y');
});
