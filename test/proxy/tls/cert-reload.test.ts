import assert from 'node:assert/strict';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import type { CertSourceSpec, ListenerSpec } from '../../../src/config/types.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import { type CertStore, createCertStore, createTlsTermination } from '../../../src/proxy/tls/index.ts';
import { makeCerts } from '../../helpers/certs.ts';

/**
 * Certificate files rewritten while fabio-ts runs: a pair that fails to load (garbage, truncated,
 * a key that does not match) keeps the previous certificate for its names, said once; listeners of
 * one source share one store (one reload, one log line per change); a persistent failure is logged
 * once, then with a repeat count.
 */

type After = { after(fn: () => unknown): void };

const listener: ListenerSpec = {
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
};

const source = (o: Partial<CertSourceSpec>): CertSourceSpec => ({
  name: 'cs',
  type: 'path',
  cert: '',
  key: '',
  clientCA: '',
  caUpgCN: '',
  refresh: 1000,
  header: {},
  vaultFetchToken: '',
  ...o,
});

async function serve(t: After, store: CertStore): Promise<number> {
  const term = createTlsTermination(listener, store);
  const srv = tls.createServer(term.serverOptions(), (s) => {
    s.on('error', () => {});
    s.end('ok');
  });
  const detach = term.attach(srv);
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    detach();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

/** The CN and serial of the certificate a real TLS client gets for an SNI name. */
function peer(port: number, servername: string): Promise<{ cn: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    s.on('secureConnect', () => {
      const c = s.getPeerCertificate();
      resolve({ cn: String(c.subject?.CN), serial: c.serialNumber });
      s.destroy();
    });
    s.on('error', reject);
  });
}

async function until<T>(fn: () => T | undefined | false, ms = 10_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes a file atomically (a dot-file renamed into place), so a refresh never sees half of it. */
async function put(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, path);
}

type Pem = { readonly pem: string; readonly keyPem: string };

const count = (lines: readonly string[], part: string) => lines.filter((l) => l.includes(part)).length;

test('a pair rewritten as garbage, truncated, or with a mismatched key keeps serving the previous certificate', async (t) => {
  const set = await makeCerts([['a.test'], ['b.test'], ['c.test'], ['d.test'], ['a.test']]);
  t.after(set.cleanup);
  const [a, b, c, d, a2] = set.certs as unknown as [Pem, Pem, Pem, Pem, Pem];
  const dir = join(set.dir, 'store');
  await mkdir(dir);
  for (const [n, p] of [
    ['a', a],
    ['b', b],
    ['d', d],
  ] as const) {
    await put(join(dir, `${n}-cert.pem`), p.pem);
    await put(join(dir, `${n}-key.pem`), p.keyPem);
  }
  const log = memoryLogger();
  const store = await createCertStore(source({ cert: dir }), log);
  t.after(() => store.close());
  const port = await serve(t, store);
  const before = new Map<string, string>();
  for (const n of ['a.test', 'b.test', 'd.test']) before.set(n, (await peer(port, n)).serial);

  const broken: [string, string, string, string, RegExp][] = [
    ['a.test', 'a-cert.pem', 'a-cert.pem', 'this is not a certificate\n', /no certificate found/],
    ['b.test', 'b-cert.pem', 'b-cert.pem', b.pem.slice(0, Math.floor(b.pem.length / 2)), /no certificate found/],
    ['d.test', 'd-cert.pem', 'd-key.pem', c.keyPem, /private key does not match certificate/],
  ];
  for (const [name, certFile, file, text, why] of broken) {
    await put(join(dir, file), text);
    const line = await until(
      () => log.lines.find((l) => l.includes(`keeping the previous certificate of ${certFile}`)),
      10_000,
      `${file} rejected`,
    );
    assert.match(line, new RegExp(`^\\[ERROR\\] cert: ${certFile}: `));
    assert.match(line, why);
    assert.ok(line.endsWith(`for ["${name}"]`), line);
    // The real TLS client still gets the same certificate for every name.
    for (const [n, serial] of before) assert.equal((await peer(port, n)).serial, serial, `${n} after breaking ${file}`);
  }
  // The broken pairs stay broken while another pair is added: no new line about them, no swap for them.
  await put(join(dir, 'c-cert.pem'), c.pem);
  await put(join(dir, 'c-key.pem'), c.keyPem);
  await until(() => store.certificates.some((x) => x.names.includes('c.test')) || undefined, 10_000, 'c added');
  for (const [, certFile] of broken)
    assert.equal(count(log.lines, `keeping the previous certificate of ${certFile}`), 1, log.lines.join('\n'));
  for (const [n, serial] of before) assert.equal((await peer(port, n)).serial, serial);
  assert.equal((await peer(port, 'c.test')).cn, 'c.test');

  // Repaired with a new certificate for a.test: served.
  await put(join(dir, 'a-key.pem'), a2.keyPem);
  await put(join(dir, 'a-cert.pem'), a2.pem);
  await until(() => store.certificates.find((x) => x.source === 'a-cert.pem')?.cert === a2.pem || undefined);
  const repaired = await peer(port, 'a.test');
  assert.equal(repaired.cn, 'a.test');
  assert.notEqual(repaired.serial, before.get('a.test'));

  // A pair that is removed is dropped (deleting is not a failed load).
  await unlink(join(dir, 'b-cert.pem'));
  await unlink(join(dir, 'b-key.pem'));
  await until(() => !store.certificates.some((x) => x.names.includes('b.test')) || undefined, 10_000, 'b removed');
});

test('listeners of one source share one store: one reload and one log line per change', async (t) => {
  const set = await makeCerts([['s.test'], ['t.test']]);
  t.after(set.cleanup);
  const dir = join(set.dir, 'shared');
  await mkdir(dir);
  await put(join(dir, 's.pem'), set.certs[0]!.pem + set.certs[0]!.keyPem);
  const log = memoryLogger();
  const spec = source({ cert: dir });
  const stores = await Promise.all([1, 2, 3].map(() => createCertStore(spec, log)));
  assert.ok(stores.every((s) => s === stores[0]));
  const store = stores[0] as CertStore;
  t.after(() => {
    for (const s of stores) s.close();
  });
  assert.equal(count(log.lines, 'cert: Store has certificates for'), 1);
  await put(join(dir, 't.pem'), set.certs[1]!.pem + set.certs[1]!.keyPem);
  await until(() => store.certificates.length === 2 || undefined, 10_000, 't added');
  assert.equal(count(log.lines, 'cert: Store has certificates for'), 2);
  // Two of three users release the store: it keeps refreshing for the last one.
  stores[0]?.close();
  stores[1]?.close();
  await put(join(dir, 's.pem'), set.certs[1]!.pem + set.certs[1]!.keyPem);
  await until(() => count(log.lines, 'cert: Store has certificates for') === 3 || undefined, 10_000, 'reload');
});

test('a source that keeps failing is logged once, then with a repeat count after 10 attempts, and once when it loads again', async (t) => {
  const set = await makeCerts([['h.test']]);
  t.after(set.cleanup);
  let down = true;
  let lists = 0;
  const srv = http.createServer((req, res) => {
    if (req.url?.startsWith('/list')) {
      lists++;
      if (down) return void res.writeHead(503).end('down');
      return void res.end('h.pem\n');
    }
    res.end(set.certs[0]!.pem + set.certs[0]!.keyPem);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/list`;
  const log = memoryLogger();
  const store = await createCertStore(source({ type: 'http', cert: url }), log);
  t.after(() => store.close());
  await until(() => lists >= 12 || undefined, 30_000, 'twelve attempts');
  const cannot = log.lines.filter((l) => l.includes('cert: Cannot load certificates from'));
  assert.equal(cannot.length, 1, log.lines.join('\n'));
  // After 10 attempts one reminder with the count; nothing else.
  const still = log.lines.filter((l) => l.includes('cert: Still cannot load certificates from'));
  assert.equal(still.length, 1, log.lines.join('\n'));
  assert.match(still[0] as string, /^\[ERROR\] cert: Still cannot load certificates from \S+ \(10 times\)\. /);
  assert.match(
    cannot[0] as string,
    /^\[ERROR\] cert: Cannot load certificates from http:\/\/127\.0\.0\.1:\d+\/list\. /,
  );
  down = false;
  await until(() => store.certificates.length === 1 || undefined, 10_000, 'loaded');
  assert.equal(
    count(log.lines, 'cert: Loaded certificates from'),
    1,
    log.lines.filter((l) => l.includes('again')).join('\n'),
  );
  assert.match(log.lines.find((l) => l.includes('Loaded certificates from')) ?? '', /again after \d+ failed attempts/);
});

test('consul source: a broken key keeps the previous pair; a failing Consul is logged once and backed off', async (t) => {
  const set = await makeCerts([['k.test'], ['k.test']]);
  t.after(set.cleanup);
  const [k1, k2] = set.certs as unknown as [Pem, Pem];
  let index = 5;
  let mode: 'ok' | 'fail' = 'ok';
  let cert = k1.pem;
  let key = k1.keyPem;
  const parked: (() => void)[] = [];
  const failures: number[] = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const reply = () => {
      if (mode === 'fail') {
        failures.push(performance.now());
        return void res.writeHead(500).end('rpc error');
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(index) });
      res.end(
        JSON.stringify([
          { Key: 'certs/k-cert.pem', Value: Buffer.from(cert).toString('base64') },
          { Key: 'certs/k-key.pem', Value: Buffer.from(key).toString('base64') },
          { Key: 42, Value: 'ignored: malformed entry' },
        ]),
      );
    };
    if (mode === 'ok' && Number(u.searchParams.get('index') ?? 0) >= index) parked.push(reply);
    else reply();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const wake = () => {
    index++;
    for (const f of parked.splice(0)) f();
  };
  const log = memoryLogger();
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/v1/kv/certs`;
  const store = await createCertStore(source({ type: 'consul', cert: url }), log);
  t.after(() => store.close());
  const port = await serve(t, store);
  const first = await peer(port, 'k.test');

  key = k2.keyPem; // a key that does not match the certificate
  await until(() => parked.length > 0 || undefined, 10_000, 'blocking read');
  wake();
  await until(
    () => log.lines.find((l) => l.includes('keeping the previous certificate of k-cert.pem')),
    10_000,
    'kept',
  );
  assert.equal((await peer(port, 'k.test')).serial, first.serial);

  mode = 'fail';
  await until(() => parked.length > 0 || undefined, 10_000, 'blocking read');
  for (const f of parked.splice(0)) f();
  // Three failed reads: 1 s then 2 s apart at least (backoff), one log line.
  await until(() => failures.length >= 3 || undefined, 20_000, 'three failures');
  assert.ok((failures[2] as number) - (failures[1] as number) >= 1900, failures.join(', '));
  assert.equal(count(log.lines, 'Cannot load certificates from'), 1, log.lines.join('\n'));
  assert.equal((await peer(port, 'k.test')).serial, first.serial);

  cert = k2.pem;
  mode = 'ok';
  index++;
  await until(() => store.certificates[0]?.cert === k2.pem || undefined, 40_000, 'new pair');
  assert.notEqual((await peer(port, 'k.test')).serial, first.serial);
  assert.equal(count(log.lines, 'again after'), 1, log.lines.join('\n'));
});
