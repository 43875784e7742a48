import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { makeCerts } from '../../helpers/certs.ts';
import { freePort, startFabio } from '../../helpers/proc.ts';
import { fakeVault } from './vault-server.ts';

/**
 * The whole process: fabio-ts started with a `vault` and a `vault-pki` source (Vault's address and
 * token from VAULT_ADDR / VAULT_TOKEN, as fabio) serves HTTPS on both listeners with certificates a
 * real client verifies against the test CA, and proxies the request.
 */

function get(port: number, servername: string, ca: string): Promise<{ status: number; body: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/app', servername, ca, agent: false }, (res) => {
      let body = '';
      const cn = String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cn }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('fabio-ts with vault and vault-pki sources serves HTTPS with their certificates', async (t) => {
  const set = await makeCerts([['kv.test']]);
  t.after(set.cleanup);
  const vault = await fakeVault(set.ca, set.dir);
  t.after(() => vault.close());
  vault.mounts.set('secret/', '2');
  vault.kv.set('secret/fabio/kv.test', { cert: set.certs[0]!.pem, key: set.certs[0]!.keyPem });
  const be = createServer((_req, res) => res.end('from backend'));
  await new Promise<void>((r) => be.listen(0, '127.0.0.1', r));
  t.after(() => be.close());
  const bePort = (be.address() as AddressInfo).port;
  const [pki, kv, ui] = [await freePort(), await freePort(), await freePort()];
  const f = startFabio(
    [
      '-proxy.cs=cs=pki;type=vault-pki;cert=pki/issue/web,cs=kv;type=vault;cert=secret/fabio',
      `-proxy.addr=127.0.0.1:${pki};proto=https;cs=pki,127.0.0.1:${kv};proto=https;cs=kv`,
      `-ui.addr=127.0.0.1:${ui}`,
      '-registry.backend=static',
      `-registry.static.routes=route add app /app http://127.0.0.1:${bePort}/`,
    ],
    { VAULT_ADDR: vault.addr, VAULT_TOKEN: 'root-token' },
  );
  t.after(async () => assert.equal(await f.stop(), 0));
  await f.waitFor(new RegExp(`listening on 127.0.0.1:${kv}`), 30_000);
  await f.waitFor(/cert: Store has certificates for \["kv.test"\]/, 30_000);

  const viaKv = await get(kv, 'kv.test', set.ca.pem);
  assert.deepEqual(viaKv, { status: 200, body: 'from backend', cn: 'kv.test' });
  const viaPki = await get(pki, 'shop.test', set.ca.pem);
  assert.deepEqual(viaPki, { status: 200, body: 'from backend', cn: 'shop.test' });
  assert.ok(vault.calls.some((c) => c.path === 'pki/issue/web' && c.body.includes('"shop.test"')));
  assert.ok(!f.stderr.concat(f.stdout).some((l) => /not supported/.test(l)), f.stderr.join('\n'));
});
