import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import tls from 'node:tls';
import fc from 'fast-check';
import { startSniListener } from '../../../src/proxy/tcp/index.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { bigAlpn, mangledTlsConnect } from './hello-capture.ts';
import { fakeTable, makeDeps, spec, until } from './helpers.ts';

/** A TLS server answering every connection with its name and closing. */
async function tlsBackend(t: TestContext, name: string, cert: { pem: string; keyPem: string }) {
  const server = tls.createServer({ cert: cert.pem, key: cert.keyPem }, (s) => {
    s.on('error', () => {});
    s.end(`hello from ${name}`);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

function readAll(s: tls.TLSSocket | net.Socket, ms = 3000): Promise<{ text: string; error?: Error }> {
  return new Promise((resolve) => {
    let text = '';
    let error: Error | undefined;
    s.setTimeout(ms, () => s.destroy(new Error('test timeout')));
    s.on('data', (c) => (text += c));
    s.on('error', (e) => (error = e));
    s.on('close', () => resolve({ text, error }));
  });
}

async function setup(t: TestContext, over = {}) {
  const { certs, ca, cleanup } = await makeCerts([['a.test'], ['b.test']]);
  t.after(cleanup);
  const pa = await tlsBackend(t, 'A', certs[0]!);
  const pb = await tlsBackend(t, 'B', certs[1]!);
  const env = makeDeps(undefined);
  const l = await startSniListener(spec({ proto: 'tcp+sni', ...over }), env.deps);
  t.after(() => l.close(0));
  // a proto=tcp+sni tag leaves an http:// destination: the SNI listener dials host:port anyway
  env.store.swap(
    fakeTable({ 'a.test': [{ url: `http://127.0.0.1:${pa}/` }], 'b.test': [{ url: `tcp://127.0.0.1:${pb}` }] }),
  );
  return { ...env, l, ca: ca.pem };
}

test('tcp+sni: two names to two TLS backends; an unknown name is closed without affecting them', async (t) => {
  const { l, ca, metrics, log } = await setup(t);
  const get = (servername: string) => readAll(tls.connect({ port: l.port, host: '127.0.0.1', servername, ca }));
  const [a, b, unknown, a2] = await Promise.all([get('a.test'), get('B.TEST'), get('c.test'), get('a.test')]);
  assert.equal(a.text, 'hello from A');
  assert.equal(b.text, 'hello from B');
  assert.equal(a2.text, 'hello from A');
  assert.equal(unknown.text, '');
  assert.ok(unknown.error, 'the client sees the connection fail');
  assert.equal(metrics.counts['tcp_sni.conn'], 4);
  assert.equal(metrics.counts['tcp_sni.noroute'], 1);
  assert.ok(log.lines.includes('[WARN] tcp+sni: no route for c.test'), log.lines.join('\n'));
  assert.ok(log.lines.some((x) => /^\[INFO\] TCP\+SNI proxy listening on 127\.0\.0\.1:\d+$/.test(x)));
  await until(() => metrics.bytes.length === 3);
  for (const x of metrics.bytes) assert.ok(x.rx > 100 && x.tx > 100, JSON.stringify(x));
});

test('tcp+sni: hellos dribbled in 1-byte writes, spread over records, larger than 1.7 KB', async (t) => {
  const { l, ca } = await setup(t);
  const cases: [string, 'bytewise' | { reframe: number[] }, tls.ConnectionOptions][] = [
    ['1-byte writes', 'bytewise', {}],
    ['two records', { reframe: [60] }, {}],
    ['handshake header split over 1-byte records', { reframe: [1, 1, 1, 1, 200] }, {}],
    ['3 KB hello in 1-byte writes', 'bytewise', { ALPNProtocols: bigAlpn(3000) }],
    ['3 KB hello in three records', { reframe: [1000, 1000] }, { ALPNProtocols: bigAlpn(3000) }],
    // beyond one 16 KiB record: the client's own TLS stack splits the hello over two records
    ['20 KB hello, records as the TLS stack frames them', { reframe: [] }, { ALPNProtocols: bigAlpn(20000) }],
  ];
  for (const [name, mode, extra] of cases) {
    const r = await readAll(mangledTlsConnect(l.port, 'b.test', ca, mode, extra));
    assert.equal(r.text, 'hello from B', name);
  }
});

test('tcp+sni: no SNI, not TLS, oversized, truncated: closed, counted as connfail', async (t) => {
  const { l, ca, metrics, log } = await setup(t, { readTimeout: 300 });
  const noSni = await readAll(tls.connect({ port: l.port, host: '127.0.0.1', ca }));
  assert.equal(noSni.text, '');
  assert.ok(log.lines.includes('[DEBUG] tcp+sni: server_name missing'), log.lines.join('\n'));
  const raw = (bytes: Buffer, end: boolean) =>
    new Promise<number>((resolve) => {
      const t0 = Date.now();
      const s = net.connect(l.port, '127.0.0.1', () => (end ? s.end(bytes) : s.write(bytes)));
      s.on('error', () => {});
      s.resume();
      s.on('close', () => resolve(Date.now() - t0));
    });
  const huge = Buffer.alloc(70_000, 0);
  huge.set([0x16, 3, 1, 0x40, 0, 1, 0, 0xff, 0xff]); // announces a 64 KiB hello
  const cases: [string, Buffer, boolean][] = [
    ['http', Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'), false],
    ['oversized', huge, false],
    ['truncated then silent (hello deadline = rt)', Buffer.from([0x16, 3, 1, 2, 0, 1, 0, 1]), false],
    ['truncated then FIN', Buffer.from([0x16, 3, 1, 2, 0, 1, 0, 1]), true],
  ];
  // each connection is closed by the listener (the client never closes a silent one itself); a
  // hang is caught by the test timeout rather than by an elapsed-time bound
  for (const [name, bytes, end] of cases) t.diagnostic(`${name}: closed after ${await raw(bytes, end)} ms`);
  assert.equal(metrics.counts['tcp_sni.connfail'], 5);
});

test('tcp+sni: random first bytes on real sockets: routed or cleanly closed, never a hang', async (t) => {
  const { l, ca } = await setup(t, { readTimeout: 200 });
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (bytes, tlsish) => {
      const b = tlsish ? Buffer.concat([Buffer.from([0x16, 3, 1]), bytes]) : Buffer.from(bytes);
      // the client never closes: the listener must (routed, refused or rt=200ms). A connection it
      // leaves open never resolves here, and the test fails on its timeout.
      await new Promise<void>((resolve) => {
        const s = net.connect(l.port, '127.0.0.1', () => s.write(b));
        s.on('error', () => {});
        s.resume();
        s.on('close', () => resolve());
      });
    }),
    { numRuns: 40 },
  );
  // and the listener still routes afterwards
  const ok = await readAll(tls.connect({ port: l.port, host: '127.0.0.1', servername: 'a.test', ca }));
  assert.equal(ok.text, 'hello from A');
});

test('tcp+sni: a throwing table costs that connection only; the next one is routed', async (t) => {
  const { l, ca, store, log } = await setup(t);
  const good = store.current!;
  store.swap({
    ...good,
    lookupTcp: () => {
      throw new Error('engine bug');
    },
  });
  const get = (servername: string) => readAll(tls.connect({ port: l.port, host: '127.0.0.1', servername, ca }));
  const bad = await get('a.test');
  assert.equal(bad.text, '');
  assert.ok(log.lines.includes('[ERROR] tcp+sni: Error: engine bug'), log.lines.join('\n'));
  store.swap(good);
  assert.equal((await get('a.test')).text, 'hello from A');
});
