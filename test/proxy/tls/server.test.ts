import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdir, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import type { CertSourceSpec, ListenerSpec } from '../../../src/config/types.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import { readProxyHeader } from '../../../src/proxy/proxy-protocol.ts';
import type { CertStore } from '../../../src/proxy/tls/index.ts';
import {
  closeSharedCertStores,
  createCertStore,
  createTlsTermination,
  forwardedTls,
  sharedCertStore,
} from '../../../src/proxy/tls/index.ts';
import { issueCert, makeCerts } from '../../helpers/certs.ts';

type After = { after(fn: () => unknown): void };

const listener = (o: Partial<ListenerSpec> = {}): ListenerSpec => ({
  addr: '127.0.0.1:0',
  host: '127.0.0.1',
  port: 0,
  proto: 'https',
  cs: 'cs',
  readTimeout: 0,
  writeTimeout: 0,
  idleTimeout: 0,
  strictMatch: false,
  tlsMin: undefined,
  tlsMax: undefined,
  tlsCiphers: [],
  proxyProto: false,
  proxyProtoTimeout: 250,
  refresh: 0,
  ...o,
});
const source = (o: Partial<CertSourceSpec>): CertSourceSpec => ({
  name: 'cs',
  type: 'path',
  cert: '',
  key: '',
  clientCA: '',
  caUpgCN: '',
  refresh: 0,
  header: {},
  vaultFetchToken: '',
  ...o,
});

/** A TLS echo-ish server answering "ok" with the store's termination; returns its port. */
async function serve(t: After, l: ListenerSpec, store: CertStore): Promise<number> {
  const term = createTlsTermination(l, store);
  const srv = tls.createServer(term.serverOptions(), (s) => {
    s.on('error', () => {});
    s.end(JSON.stringify(forwardedTls(s)));
  });
  const off = term.attach(srv);
  srv.on('tlsClientError', () => {});
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    off();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

/** Connects and returns the peer certificate CN (or the error message). */
async function peerCN(
  port: number,
  o: tls.ConnectionOptions,
): Promise<{ cn?: string; err?: string; body?: string; alpn?: string | false }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o });
    s.setTimeout(3000, () => s.destroy(new Error('timeout')));
    let body = '';
    let cn: string | undefined;
    s.on('secureConnect', () => {
      cn = String(s.getPeerCertificate().subject?.CN);
      s.on('data', (d: Buffer) => (body += d));
    });
    s.on('end', () =>
      resolve(cn === undefined ? { err: 'closed before handshake' } : { cn, body, alpn: s.alpnProtocol ?? false }),
    );
    s.on('error', (e) => resolve({ err: e.message }));
  });
}

const poll = async (fn: () => Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

test('path source: two names served with the right certificate, fallback, no SNI, strict', async (t) => {
  const set = await makeCerts([['a.example.com'], ['b.example.com', '*.b.example.com']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'certs');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await copyFile(set.certs[0]!.certFile, join(dir, 'a-cert.pem'));
  await copyFile(set.certs[0]!.keyFile, join(dir, 'a-key.pem'));
  // combined <n>.pem in a sub directory, and a dot-file that must be skipped
  await writeFile(join(dir, 'sub', 'b.pem'), set.certs[1]!.pem + set.certs[1]!.keyPem);
  await writeFile(join(dir, '.hidden.pem'), 'garbage');
  const log = memoryLogger();
  const store = await createCertStore(source({ type: 'path', cert: dir }), log);
  t.after(() => store.close());
  assert.deepEqual(
    store.certificates.map((c) => c.names),
    [['a.example.com'], ['b.example.com', '*.b.example.com']],
  );
  assert.ok(
    log.lines.includes('[INFO] cert: Store has certificates for ["a.example.com,b.example.com,*.b.example.com"]'),
    log.lines.join('\n'),
  );

  const port = await serve(t, listener(), store);
  assert.equal((await peerCN(port, { servername: 'a.example.com' })).cn, 'a.example.com');
  assert.equal((await peerCN(port, { servername: 'B.example.com.' })).cn, 'b.example.com');
  assert.equal((await peerCN(port, { servername: 'x.b.example.com' })).cn, 'b.example.com');
  assert.equal((await peerCN(port, { servername: 'other.org' })).cn, 'a.example.com');
  assert.equal((await peerCN(port, {})).cn, 'a.example.com');
  // verified against the CA, ALPN h2 offered
  const ok = await peerCN(port, {
    servername: 'b.example.com',
    ca: set.ca.pem,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  });
  assert.equal(ok.cn, 'b.example.com');
  assert.equal(ok.alpn, 'h2');

  const strictPort = await serve(t, listener({ strictMatch: true }), store);
  assert.equal((await peerCN(strictPort, { servername: 'a.example.com' })).cn, 'a.example.com');
  assert.ok((await peerCN(strictPort, { servername: 'other.org' })).err);
  assert.ok((await peerCN(strictPort, {})).err);
});

test('path source refresh picks up a new certificate and a removed one', async (t) => {
  const set = await makeCerts([['one.test']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'certs');
  await mkdir(dir);
  await writeFile(join(dir, 'one.pem'), set.certs[0]!.pem + set.certs[0]!.keyPem);
  const store = await createCertStore(source({ type: 'path', cert: dir, refresh: 1000 }), memoryLogger());
  t.after(() => store.close());
  const port = await serve(t, listener({ strictMatch: true }), store);
  assert.ok((await peerCN(port, { servername: 'two.test' })).err);
  const two = await issueCert(set.dir, 'two', ['two.test']);
  await writeFile(join(dir, 'two.pem'), two.pem + two.keyPem);
  assert.ok(await poll(async () => (await peerCN(port, { servername: 'two.test' })).cn === 'two.test'));
  await unlink(join(dir, 'two.pem'));
  assert.ok(await poll(async () => !!(await peerCN(port, { servername: 'two.test' })).err));
});

test('default certificate follows refresh for clients without SNI', async (t) => {
  const set = await makeCerts([['b.test'], ['a.test']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'certs');
  await mkdir(dir);
  await writeFile(join(dir, 'b.pem'), set.certs[0]!.pem + set.certs[0]!.keyPem);
  const store = await createCertStore(source({ type: 'path', cert: dir, refresh: 1000 }), memoryLogger());
  t.after(() => store.close());
  const port = await serve(t, listener(), store);
  assert.equal((await peerCN(port, {})).cn, 'b.test');
  await writeFile(join(dir, 'a.pem'), set.certs[1]!.pem + set.certs[1]!.keyPem);
  assert.ok(await poll(async () => (await peerCN(port, {})).cn === 'a.test'));
});

test('file source with separate key; tlsmin/tlsmax; ciphers; Forwarded tls values', async (t) => {
  const set = await makeCerts([['f.test']]);
  t.after(set.cleanup);
  const store = await createCertStore(
    source({ type: 'file', cert: set.certs[0]!.certFile, key: set.certs[0]!.keyFile }),
    memoryLogger(),
  );
  const p12 = await serve(t, listener({ tlsMax: 'TLSv1.2', tlsCiphers: ['0xc02b'] }), store);
  const r = await peerCN(p12, { servername: 'f.test' });
  assert.equal(r.cn, 'f.test');
  assert.deepEqual(JSON.parse(r.body!), { tlsver: 'tls12', tlscipher: '0xc02b' });
  // a client that only offers a suite the listener does not allow fails
  assert.ok(
    (await peerCN(p12, { servername: 'f.test', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' })).err,
  );
  const p13 = await serve(t, listener({ tlsMin: 'TLSv1.3' }), store);
  assert.deepEqual(JSON.parse((await peerCN(p13, {})).body!).tlsver, 'tls13');
  assert.ok((await peerCN(p13, { maxVersion: 'TLSv1.2' })).err);
});

test('clientca: client certificate required and verified', async (t) => {
  const server = await makeCerts([['srv.test']]);
  const clients = await makeCerts([['client-a']], { caName: 'client CA' });
  const other = await makeCerts([['client-b']], { caName: 'other CA' });
  t.after(() => Promise.all([server.cleanup(), clients.cleanup(), other.cleanup()]));
  const store = await createCertStore(
    source({
      type: 'file',
      cert: server.certs[0]!.certFile,
      key: server.certs[0]!.keyFile,
      clientCA: clients.ca.certFile,
    }),
    memoryLogger(),
  );
  const port = await serve(t, listener(), store);
  const good = await peerCN(port, {
    servername: 'srv.test',
    cert: clients.certs[0]!.pem,
    key: clients.certs[0]!.keyPem,
  });
  assert.equal(good.cn, 'srv.test');
  assert.ok(good.body, 'served');
  const none = await peerCN(port, { servername: 'srv.test' });
  assert.ok(none.err || !none.body, 'no client cert rejected');
  const wrong = await peerCN(port, { servername: 'srv.test', cert: other.certs[0]!.pem, key: other.certs[0]!.keyPem });
  assert.ok(wrong.err || !wrong.body, 'client cert of another CA rejected');
});

test('http source: list file and files relative to it, with basic auth and refresh', async (t) => {
  const set = await makeCerts([['h1.test'], ['h2.test']]);
  t.after(set.cleanup);
  const files: Record<string, string> = {
    'h1-cert.pem': set.certs[0]!.pem,
    'h1-key.pem': set.certs[0]!.keyPem,
  };
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? ''} ${req.headers['x-extra'] ?? ''}`);
    if (req.url === '/certs/list') return res.end(`${Object.keys(files).join('\n')}\n`);
    const body = files[req.url!.replace('/certs/', '')];
    res.statusCode = body ? 200 : 404;
    res.end(body ?? '');
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const base = `http://u:p@127.0.0.1:${(srv.address() as net.AddressInfo).port}/certs/list`;
  const store = await createCertStore(
    source({ type: 'http', cert: base, refresh: 1000, header: { 'x-extra': 'yes' } }),
    memoryLogger(),
  );
  t.after(() => store.close());
  assert.deepEqual(
    store.certificates.map((c) => c.names[0]),
    ['h1.test'],
  );
  assert.ok(seen.includes(`/certs/h1-cert.pem Basic ${Buffer.from('u:p').toString('base64')} yes`), seen.join('\n'));
  files['h2.pem'] = set.certs[1]!.pem + set.certs[1]!.keyPem;
  assert.ok(await poll(async () => store.certificates.length === 2));
  assert.deepEqual(
    store.certificates.map((c) => c.names[0]),
    ['h1.test', 'h2.test'],
  );
});

test('consul source: KV prefix watched with blocking queries', async (t) => {
  const set = await makeCerts([['c1.test'], ['c2.test']]);
  t.after(set.cleanup);
  let index = 10;
  const kv: Record<string, string> = { 'fabio/certs/c1.pem': set.certs[0]!.pem + set.certs[0]!.keyPem };
  const waiting: (() => void)[] = [];
  const tokens: string[] = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    tokens.push(String(req.headers['x-consul-token']));
    const reply = () => {
      const entries = Object.entries(kv).filter(([k]) => k.startsWith('fabio/certs'));
      res.setHeader('X-Consul-Index', String(index));
      if (entries.length === 0) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify([
          { Key: 'fabio/certs/', Value: null },
          ...entries.map(([Key, v]) => ({ Key, Value: Buffer.from(v).toString('base64') })),
        ]),
      );
    };
    assert.equal(u.pathname, '/v1/kv/fabio/certs');
    if (Number(u.searchParams.get('index') ?? 0) >= index) waiting.push(reply);
    else reply();
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/v1/kv/fabio/certs?token=secret`;
  const store = await createCertStore(source({ type: 'consul', cert: url }), memoryLogger());
  t.after(() => store.close());
  assert.deepEqual(
    store.certificates.map((c) => c.names[0]),
    ['c1.test'],
  );
  assert.equal(tokens[0], 'secret');
  assert.ok(await poll(async () => waiting.length > 0), 'blocking query pending');
  kv['fabio/certs/c2.pem'] = set.certs[1]!.pem + set.certs[1]!.keyPem;
  index++;
  for (const f of waiting.splice(0)) f();
  assert.ok(await poll(async () => store.certificates.length === 2));
  const port = await serve(t, listener({ strictMatch: true }), store);
  assert.equal((await peerCN(port, { servername: 'c2.test' })).cn, 'c2.test');
});

test('vault with Vault unreachable starts empty and logs the error; a malformed VAULT_ADDR fails at start-up', async (t) => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const addr = `http://127.0.0.1:${(closed.address() as net.AddressInfo).port}`;
  await new Promise((r) => closed.close(r));
  const log = memoryLogger();
  const store = await createCertStore(source({ type: 'vault', cert: 'secret/fabio', refresh: 0 }), log, {
    env: { VAULT_ADDR: addr, VAULT_TOKEN: 't' },
  });
  t.after(() => store.close());
  assert.equal(store.certificates.length, 0);
  assert.match(log.lines.join('\n'), /\[ERROR\] cert: Cannot load certificates from secret\/fabio\. /);
  await assert.rejects(
    createCertStore(source({ type: 'vault-pki', cert: 'pki/issue/x' }), memoryLogger(), { env: { VAULT_ADDR: '::' } }),
    /Invalid URL/,
  );
});

test("a source that cannot load yet starts empty, logs fabio's error and retries until it loads", async (t) => {
  const set = await makeCerts([['late.test']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'late');
  const log = memoryLogger();
  const store = await createCertStore(source({ type: 'path', cert: dir, refresh: 0 }), log);
  t.after(() => store.close());
  assert.equal(store.certificates.length, 0);
  assert.ok(
    log.lines.some((l) => l.startsWith(`[ERROR] cert: Cannot load certificates from ${dir}. ENOENT`)),
    log.lines.join('\n'),
  );
  await mkdir(dir);
  await writeFile(join(dir, 'late.pem'), set.certs[0]!.pem + set.certs[0]!.keyPem);
  assert.ok(await poll(async () => store.certificates.length === 1));
  const file = await createCertStore(source({ type: 'file', cert: '/nonexistent/cert.pem' }), log);
  file.close();
  assert.equal(file.certificates.length, 0);
  await assert.rejects(
    createCertStore(source({ type: 'file', cert: set.certs[0]!.certFile, clientCA: '/nonexistent/ca.pem' }), log),
    /ENOENT/,
  );
  await assert.rejects(
    createCertStore(source({ type: 'consul', cert: 'http://127.0.0.1:1/not-kv' }), log),
    /must be http\(s\):\/\/host:port\/v1\/kv/,
  );
});

test('empty store: handshake fails; PROXY header under TLS keeps the ClientHello', async (t) => {
  const set = await makeCerts([['p.test']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'empty');
  await mkdir(dir);
  const empty = await createCertStore(source({ type: 'path', cert: dir }), memoryLogger());
  const port = await serve(t, listener(), empty);
  assert.ok((await peerCN(port, { servername: 'p.test' })).err);

  // PROXY protocol sits under TLS: read the header, then wrap the raw socket.
  const store = await createCertStore(
    source({ type: 'file', cert: set.certs[0]!.certFile, key: set.certs[0]!.keyFile }),
    memoryLogger(),
  );
  const term = createTlsTermination(listener(), store);
  const srv = net.createServer(async (raw) => {
    raw.on('error', () => {});
    const info = await readProxyHeader(raw, 1000).catch(() => undefined);
    if (!info) return raw.destroy();
    const s = new tls.TLSSocket(raw, term.socketOptions());
    s.on('error', () => {});
    s.on('secure', () => s.end(info.source?.address ?? 'none'));
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const raw = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(raw, 'connect');
  raw.write('PROXY TCP4 203.0.113.9 127.0.0.1 5555 443\r\n');
  const r = await peerCN(0, { socket: raw, servername: 'p.test' });
  assert.equal(r.cn, 'p.test');
  assert.equal(r.body, '203.0.113.9');
});

test('sharedCertStore: one store per source, whoever asks; unknown source message', async (t) => {
  const set = await makeCerts([['s.test']]);
  t.after(set.cleanup);
  const cfg = {
    certSources: new Map([['cs', source({ type: 'file', cert: set.certs[0]!.certFile, key: set.certs[0]!.keyFile })]]),
  };
  t.after(() => closeSharedCertStores(cfg));
  const [a, b] = await Promise.all([
    sharedCertStore(cfg, 'cs', memoryLogger()),
    sharedCertStore(cfg, 'cs', memoryLogger()),
  ]);
  assert.equal(a, b);
  // The same source through another configuration object: still the one store (released once).
  assert.equal(
    a,
    await sharedCertStore({ certSources: cfg.certSources }, 'cs', memoryLogger()).then((s) => {
      s.close();
      return s;
    }),
  );
  await assert.rejects(sharedCertStore(cfg, 'nope', memoryLogger()), { message: 'unknown certificate source "nope"' });
});

test('consul source against the embedded dev catalog (PUT a key, see the certificate)', async (t) => {
  const { startDevCatalog } = await import('../../../src/registry/dev-catalog/index.ts');
  const cat = await startDevCatalog({ host: '127.0.0.1', port: 0 });
  t.after(() => cat.close());
  const set = await makeCerts([['kv1.test'], ['kv2.test']]);
  t.after(set.cleanup);
  const put = async (key: string, body: string) => {
    const r = await fetch(`${cat.url}/v1/kv/${key}`, { method: 'PUT', body });
    assert.equal(r.status, 200);
  };
  await put('fabio/certs/kv1-cert.pem', set.certs[0]!.pem);
  await put('fabio/certs/kv1-key.pem', set.certs[0]!.keyPem);
  const store = await createCertStore(source({ type: 'consul', cert: `${cat.url}/v1/kv/fabio/certs` }), memoryLogger());
  t.after(() => store.close());
  assert.deepEqual(
    store.certificates.map((c) => c.names[0]),
    ['kv1.test'],
  );
  await put('fabio/certs/kv2.pem', set.certs[1]!.pem + set.certs[1]!.keyPem);
  assert.ok(await poll(async () => store.certificates.length === 2), 'blocking watch saw the new key');
  assert.deepEqual(
    store.certificates.map((c) => c.names[0]),
    ['kv1.test', 'kv2.test'],
  );
});

test('HTTP/2 and HTTP/1.1 clients on one secure server, certificate chosen by SNI', async (t) => {
  const http2 = await import('node:http2');
  const https = await import('node:https');
  const set = await makeCerts([['one.h2'], ['two.h2']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'h2');
  await mkdir(dir);
  for (const [i, n] of ['one', 'two'].entries())
    await writeFile(join(dir, `${n}.pem`), set.certs[i]!.pem + set.certs[i]!.keyPem);
  const store = await createCertStore(source({ type: 'path', cert: dir }), memoryLogger());
  const term = createTlsTermination(listener(), store);
  const srv = http2.createSecureServer({ ...term.serverOptions(), allowHTTP1: true }, (req, res) =>
    res.end(`${req.httpVersion}`),
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: set.ca.pem, servername: 'two.h2' });
  t.after(() => session.close());
  const req = session.request({ ':path': '/' });
  let body = '';
  req.on('data', (d: Buffer) => (body += d));
  await once(req, 'end');
  assert.equal(body, '2.0');
  assert.equal((session.socket as tls.TLSSocket).getPeerCertificate().subject.CN, 'two.h2');
  const h1 = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, servername: 'one.h2', ca: set.ca.pem, agent: false }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d));
        res.on('end', () => resolve(`${b} ${(res.socket as tls.TLSSocket).getPeerCertificate().subject.CN}`));
      })
      .on('error', reject);
  });
  assert.equal(h1, '1.1 one.h2');
});
