import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { testConfig } from '../../src/config/index.ts';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, consulBackendOptions } from '../../src/registry/consul/backend.ts';
import { makeCerts } from '../helpers/certs.ts';

test('https Consul: CA file verifies, insecureskipverify skips, no CA fails', async (t) => {
  const certs = await makeCerts([['127.0.0.1']]);
  const leaf = certs.certs[0];
  assert.ok(leaf);
  const server = createServer({ cert: leaf.pem, key: leaf.keyPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '1' });
    res.end(req.url?.startsWith('/v1/agent/self') ? JSON.stringify({ Config: { Datacenter: 'tls-dc' } }) : '[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await certs.cleanup();
  });
  const cases: [string, Record<string, string | boolean>, boolean][] = [
    ['cafile', { 'registry.consul.tls.cafile': certs.ca.certFile }, true],
    ['capath', { 'registry.consul.tls.capath': certs.dir }, true],
    ['insecureskipverify', { 'registry.consul.tls.insecureskipverify': true }, true],
    ['no CA', {}, false],
  ];
  for (const [name, extra, ok] of cases) {
    const o = consulBackendOptions(
      testConfig({ 'registry.consul.addr': addr, 'registry.timeout': '300ms', 'registry.retry': '50ms', ...extra }),
    );
    const b = new ConsulBackend(o, memoryLogger());
    if (ok) {
      await b.connect();
      assert.equal(b.datacenter, 'tls-dc', name);
    } else {
      await assert.rejects(b.connect(), { message: 'Timeout registering backend.' }, name);
    }
    await b.stop();
  }
});
