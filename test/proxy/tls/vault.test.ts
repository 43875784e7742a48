import assert from 'node:assert/strict';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { memoryLogger } from '../../../src/log/logger.ts';
import { createCertStore } from '../../../src/proxy/tls/index.ts';
import { kvLayout } from '../../../src/proxy/tls/source-vault.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { fakeVault, peer, serveStore, until, vaultSource } from './vault-server.ts';

/**
 * `type=vault`: certificates from a Vault KV path (v1 and v2), read through a Vault-compatible test
 * server, served to real TLS clients by SNI; refresh picks up changes; a failing Vault keeps the
 * last good certificates (one line per episode); the token is renewed and re-read.
 */

async function setup(t: TestContext, names: string[][]) {
  const set = await makeCerts(names);
  t.after(set.cleanup);
  const vault = await fakeVault(set.ca, set.dir);
  t.after(() => vault.close());
  return { set, vault, env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: 'root-token' } };
}

test('kvLayout: v1, v2 from the mount, v2 from a /data/ path', () => {
  const v1 = kvLayout('secret/fabio/certs', { path: 'secret/', version: '1' });
  assert.deepEqual([v1.v2, v1.list, v1.read('a')], [false, 'secret/fabio/certs', 'secret/fabio/certs/a']);
  const v2 = kvLayout('/secret/fabio/certs/', { path: 'secret/', version: '2' });
  assert.deepEqual([v2.v2, v2.list, v2.read('a')], [true, 'secret/metadata/fabio/certs', 'secret/data/fabio/certs/a']);
  const written = kvLayout('kv/data/fabio', { path: 'kv/', version: '2' });
  assert.deepEqual([written.list, written.read('a')], ['kv/metadata/fabio', 'kv/data/fabio/a']);
  const hinted = kvLayout('kv/data/fabio', undefined);
  assert.deepEqual([hinted.v2, hinted.list, hinted.read('a')], [true, 'kv/metadata/fabio', 'kv/data/fabio/a']);
  const plain = kvLayout('kv/fabio', undefined);
  assert.deepEqual([plain.v2, plain.list], [false, 'kv/fabio']);
});

for (const c of [
  { name: 'KV v1', version: '1', mountsApi: true, cert: 'secret/fabio/certs' },
  { name: 'KV v2 (mount options)', version: '2', mountsApi: true, cert: 'secret/fabio/certs' },
  { name: 'KV v2 (/data/ path, no mounts API)', version: '2', mountsApi: false, cert: 'secret/data/fabio/certs' },
]) {
  test(`vault ${c.name}: each secret's cert/key is served by SNI`, async (t) => {
    const { set, vault, env } = await setup(t, [['a.test'], ['b.test']]);
    const [a, b] = set.certs;
    vault.mounts.set('secret/', c.version);
    vault.opts.mountsApi = c.mountsApi;
    vault.kv.set('secret/fabio/certs/a.test', { cert: a!.pem, key: a!.keyPem });
    vault.kv.set('secret/fabio/certs/b.test', { cert: b!.pem, key: b!.keyPem });
    // a sub-folder and a secret without the fields are not certificates
    vault.kv.set('secret/fabio/certs/old/x', { cert: a!.pem, key: a!.keyPem });
    const log = memoryLogger();
    const store = await createCertStore(vaultSource({ cert: c.cert, refresh: 0 }), log, { env });
    t.after(() => store.close());
    const port = await serveStore(t, store);
    assert.equal((await peer(port, 'a.test', set.ca.pem)).cn, 'a.test');
    assert.equal((await peer(port, 'b.test', set.ca.pem)).cn, 'b.test');
    assert.deepEqual(
      store.certificates.map((x) => x.source),
      ['a.test-cert.pem', 'b.test-cert.pem'],
    );
    assert.ok(log.lines.includes('[INFO] cert: Store has certificates for ["a.test,b.test"]'), log.lines.join('\n'));
    // every call carried the token
    assert.ok(vault.calls.every((x) => x.token === 'root-token'));
  });
}

test('vault: a changed secret is picked up at the next refresh', async (t) => {
  const { set, vault, env } = await setup(t, [['a.test'], ['a.test']]);
  const [a1, a2] = set.certs;
  vault.mounts.set('secret/', '2');
  vault.kv.set('secret/fabio/certs/a', { cert: a1!.pem, key: a1!.keyPem });
  const store = await createCertStore(vaultSource({ refresh: 1000 }), memoryLogger(), { env });
  t.after(() => store.close());
  const port = await serveStore(t, store);
  const first = await peer(port, 'a.test');
  vault.kv.set('secret/fabio/certs/a', { cert: a2!.pem, key: a2!.keyPem });
  await until(() => store.certificates[0]?.cert === a2!.pem, 15_000, 'new certificate loaded');
  const second = await peer(port, 'a.test');
  assert.notEqual(second.serial, first.serial);
});

test('vault down: last good certificates stay, one ERROR line per episode, one line when it is back', async (t) => {
  const { set, vault, env } = await setup(t, [['a.test']]);
  const [a] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a!.pem, key: a!.keyPem });
  const log = memoryLogger();
  const store = await createCertStore(vaultSource({ refresh: 1000 }), log, { env });
  t.after(() => store.close());
  const port = await serveStore(t, store);
  const before = await peer(port, 'a.test');
  vault.opts.fail = 503;
  const failedCalls = () => vault.calls.filter((c) => c.path.startsWith('sys/internal')).length;
  const start = failedCalls();
  await until(() => failedCalls() >= start + 3, 15_000, 'three failed refreshes');
  assert.equal((await peer(port, 'a.test')).serial, before.serial);
  const errors = log.lines.filter((l) =>
    l.startsWith('[ERROR] cert: Cannot load certificates from secret/fabio/certs.'),
  );
  assert.equal(errors.length, 1, log.lines.join('\n'));
  assert.match(errors[0]!, /HTTP 503: vault is sealed/);
  vault.opts.fail = 0;
  await until(() => log.lines.some((l) => l.includes('Loaded certificates from secret/fabio/certs again after')));
});

test('vault: the token is looked up and renewed before its TTL runs out, again and again', async (t) => {
  const { set, vault, env } = await setup(t, [['a.test']]);
  const [a] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a!.pem, key: a!.keyPem });
  vault.opts.tokenTtl = 2;
  vault.opts.renewable = true;
  const store = await createCertStore(vaultSource({ refresh: 0 }), memoryLogger(), { env });
  t.after(() => store.close());
  await until(() => vault.count('POST', /^auth\/token\/renew-self$/) >= 2, 15_000, 'two renewals');
  assert.equal(vault.count('GET', /^auth\/token\/lookup-self$/), 1);
  assert.ok(vault.calls.filter((c) => c.path === 'auth/token/renew-self').every((c) => c.token === 'root-token'));
});

test('vault: a failing renewal is logged once, retried, and its recovery said once', async (t) => {
  const { set, vault, env } = await setup(t, [['a.test']]);
  const [a] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a!.pem, key: a!.keyPem });
  vault.opts.tokenTtl = 2;
  vault.opts.renewable = true;
  vault.opts.renewFail = 500;
  const log = memoryLogger();
  const store = await createCertStore(vaultSource({ refresh: 0 }), log, { env });
  t.after(() => store.close());
  await until(() => log.lines.some((l) => l.startsWith('[ERROR] vault: cannot keep the token alive: renew-self:')));
  vault.opts.renewFail = 0;
  await until(() => log.lines.includes(`[INFO] vault: token renewed again at ${vault.addr}`), 20_000, 'recovery');
  assert.equal(log.lines.filter((l) => l.startsWith('[ERROR] vault: cannot keep the token alive')).length, 1);
  assert.match(log.lines.find((l) => l.startsWith('[ERROR] vault'))!, /HTTP 500: lease is not renewable/);
});

test('vault: a token that is not renewable (or has no TTL) is never renewed', async (t) => {
  const { set, vault, env } = await setup(t, [['a.test']]);
  const [a] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a!.pem, key: a!.keyPem });
  vault.opts.tokenTtl = 1;
  vault.opts.renewable = false;
  const store = await createCertStore(vaultSource({ refresh: 1000 }), memoryLogger(), { env });
  t.after(() => store.close());
  const reads = () => vault.count('LIST', /fabio\/certs$/);
  await until(() => reads() >= 3, 15_000, 'three refreshes');
  assert.equal(vault.count('GET', /^auth\/token\/lookup-self$/), 1);
  assert.equal(vault.count('POST', /^auth\/token\/renew-self$/), 0);
});

test('vault: vaultfetchtoken=file: re-reads a rotated token', async (t) => {
  const { set, vault } = await setup(t, [['a.test'], ['a.test']]);
  const [a1, a2] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a1!.pem, key: a1!.keyPem });
  const file = join(set.dir, 'token');
  await writeFile(file, 'token-1\n');
  vault.tokens.clear();
  vault.tokens.add('token-1');
  const log = memoryLogger();
  const store = await createCertStore(vaultSource({ refresh: 1000, vaultFetchToken: `file:${file}` }), log, {
    env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: 'stale-env-token' },
  });
  t.after(() => store.close());
  assert.equal(store.certificates[0]?.names[0], 'a.test');
  // rotate: Vault accepts only the new token from now on
  vault.tokens.clear();
  vault.tokens.add('token-2');
  await writeFile(`${file}.tmp`, 'token-2\n');
  await rename(`${file}.tmp`, file);
  vault.kv.set('secret/fabio/certs/a', { cert: a2!.pem, key: a2!.keyPem });
  await until(() => store.certificates[0]?.cert === a2!.pem, 15_000, 'read with the new token');
  assert.ok(vault.calls.some((c) => c.token === 'token-2' && c.path === 'auth/token/lookup-self'));
  assert.ok(!vault.calls.some((c) => c.token === 'stale-env-token'));
});

test('vault: vaultfetchtoken=env: reads the named variable', async (t) => {
  const { set, vault } = await setup(t, [['a.test']]);
  const [a] = set.certs;
  vault.mounts.set('secret/', '1');
  vault.kv.set('secret/fabio/certs/a', { cert: a!.pem, key: a!.keyPem });
  vault.tokens.add('from-env');
  vault.tokens.delete('root-token');
  const store = await createCertStore(vaultSource({ refresh: 0, vaultFetchToken: 'env:MY_TOKEN' }), memoryLogger(), {
    env: { VAULT_ADDR: vault.addr, MY_TOKEN: 'from-env' },
  });
  t.after(() => store.close());
  assert.equal(store.certificates.length, 1);
});
