import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { memoryLogger } from '../../../src/log/logger.ts';
import { createCertStore } from '../../../src/proxy/tls/index.ts';
import { renewAt } from '../../../src/proxy/tls/source-vault-pki.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { fakeVault, peer, serveStore, until, vaultSource } from './vault-server.ts';

/**
 * `type=vault-pki`: a certificate per SNI name, issued on the first handshake through the PKI role
 * path, cached, issued again before it expires; one request for concurrent handshakes; a refused
 * name fails its own handshakes only. Real TLS clients verify the chain against the test CA.
 */

async function setup(t: TestContext) {
  const set = await makeCerts([]);
  t.after(set.cleanup);
  const vault = await fakeVault(set.ca, set.dir);
  t.after(() => vault.close());
  const log = memoryLogger();
  const store = await createCertStore(vaultSource({ type: 'vault-pki', cert: 'pki/issue/web', refresh: 0 }), log, {
    env: { VAULT_ADDR: vault.addr, VAULT_TOKEN: 'root-token' },
  });
  t.after(() => store.close());
  // vault-pki listeners always match strictly (config/listener.ts)
  const port = await serveStore(t, store, true);
  const issued = (cn: string) =>
    vault.calls.filter((c) => c.path === 'pki/issue/web' && c.body.includes(JSON.stringify(cn))).length;
  return { set, vault, log, store, port, issued };
}

test('renewAt: refresh (at least 1 h) before expiry, or at 2/3 of a shorter lifetime', () => {
  const h = 3_600_000;
  assert.equal(renewAt(0, 30 * 24 * h, 0), 30 * 24 * h - h);
  assert.equal(renewAt(0, 30 * 24 * h, 5 * h), 30 * 24 * h - 5 * h);
  assert.equal(renewAt(0, 3000, 0), 2000);
  assert.equal(renewAt(5000, 5000, 0), 5000);
});

test('vault-pki: the first handshake for a name issues its certificate; later ones reuse it', async (t) => {
  const { set, port, issued, log } = await setup(t);
  const a = await peer(port, 'app.test', set.ca.pem);
  assert.equal(a.cn, 'app.test');
  assert.equal((await peer(port, 'APP.test.', set.ca.pem)).serial, a.serial);
  const b = await peer(port, 'other.test', set.ca.pem);
  assert.equal(b.cn, 'other.test');
  // the first name is still served its own certificate (strict: never another name's)
  assert.equal((await peer(port, 'app.test', set.ca.pem)).serial, a.serial);
  assert.equal(issued('app.test'), 1);
  assert.equal(issued('other.test'), 1);
  assert.ok(log.lines.some((l) => l.startsWith('[INFO] cert: Issued certificate for "app.test" from pki/issue/web')));
});

test('vault-pki: concurrent handshakes for one name share one issue request', async (t) => {
  const { set, vault, port, issued } = await setup(t);
  let release = () => {};
  vault.opts.gate = new Promise<void>((r) => {
    release = r;
  });
  const many = Array.from({ length: 8 }, () => peer(port, 'busy.test', set.ca.pem));
  await until(() => issued('busy.test') >= 1, 15_000, 'the issue request');
  release();
  const got = await Promise.all(many);
  assert.equal(new Set(got.map((g) => g.serial)).size, 1);
  assert.equal(issued('busy.test'), 1);
});

test('vault-pki: a refused name fails its own handshake only, asked again only after a pause', async (t) => {
  const { set, vault, port, issued, log } = await setup(t);
  vault.opts.refuse.add('evil.test');
  await assert.rejects(peer(port, 'evil.test', set.ca.pem));
  await assert.rejects(peer(port, 'evil.test', set.ca.pem));
  assert.equal(issued('evil.test'), 1);
  assert.equal((await peer(port, 'good.test', set.ca.pem)).cn, 'good.test');
  const errors = log.lines.filter((l) => l.startsWith('[ERROR] cert: Cannot issue certificate for "evil.test"'));
  assert.equal(errors.length, 1, log.lines.join('\n'));
  assert.match(errors[0]!, /HTTP 400: common name evil.test not allowed by this role/);
});

test('vault-pki: Vault down fails new names; a name already issued keeps its certificate', async (t) => {
  const { set, vault, port, log } = await setup(t);
  const before = await peer(port, 'kept.test', set.ca.pem);
  vault.opts.fail = 503;
  for (const n of ['n1.test', 'n2.test', 'n3.test']) await assert.rejects(peer(port, n, set.ca.pem));
  assert.equal((await peer(port, 'kept.test', set.ca.pem)).serial, before.serial);
  // one ERROR line for the outage, the other names at DEBUG
  assert.equal(log.lines.filter((l) => l.startsWith('[ERROR] cert: Cannot issue')).length, 1, log.lines.join('\n'));
  assert.equal(log.lines.filter((l) => l.startsWith('[DEBUG] cert: Cannot issue')).length, 2);
});

test('vault-pki: no SNI, or a name that is not a host name: no certificate, Vault not asked', async (t) => {
  const { set, port, vault } = await setup(t);
  await assert.rejects(peer(port, '', set.ca.pem));
  await assert.rejects(peer(port, 'bad_name!.test', set.ca.pem));
  assert.equal(vault.calls.filter((c) => c.path.startsWith('pki/')).length, 0);
});

test('vault-pki: a short-lived certificate is issued again before it expires', async (t) => {
  const { set, vault, port, issued } = await setup(t);
  vault.opts.pkiTtl = 3;
  const first = await peer(port, 'short.test', set.ca.pem);
  // handshakes keep coming; after 2/3 of the lifetime a new certificate is issued in the background
  // while the current one is still served
  const deadline = Date.now() + 20_000;
  let latest = first;
  while (latest.serial === first.serial) {
    if (Date.now() > deadline) throw new Error('no re-issued certificate');
    await new Promise((r) => setTimeout(r, 100));
    latest = await peer(port, 'short.test', set.ca.pem);
  }
  assert.equal(latest.cn, 'short.test');
  assert.ok(issued('short.test') >= 2);
});
