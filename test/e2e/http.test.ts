// Acceptance of the HTTP data-plane issue, end to end with the embedded catalog: host routing
// balanced over two instances, Trace-header lines, an HTTPS upstream with tlsskipverify reached
// over plain HTTP, and the common-format access log on stdout.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { makeCerts } from '../helpers/certs.ts';
import { until } from '../helpers/proc.ts';
import { backend, startDevFabio } from './fixtures.ts';

function get(
  port: number,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { Host: host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('mysite.com:9999 over two instances, Trace lines, https upstream, access log', async (t) => {
  const f = await startDevFabio(['-log.level=TRACE', '-log.access.target=stdout']);
  t.after(async () => assert.equal(await f.stop(), 0));
  const a = await backend('instance-a');
  const b = await backend('instance-b');
  t.after(() => Promise.all([a.close(), b.close()]));
  for (const [id, be] of [
    ['mysite-a', a],
    ['mysite-b', b],
  ] as const) {
    await f.register({
      ID: id,
      Name: 'mysite',
      Port: be.port,
      Tags: ['urlprefix-mysite.com:9999/'],
      Check: { HTTP: `http://127.0.0.1:${be.port}/`, Interval: '1s' },
    });
  }
  await until(async () => (await f.routesRaw()).match(/route add mysite mysite\.com:9999\//g)?.length === 2, 8000);

  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < 2; i++) {
    const r = await get(f.http, 'mysite.com:9999');
    assert.equal(r.status, 200);
    seen.add(r.body);
  }
  assert.deepEqual([...seen].sort(), ['instance-a', 'instance-b']);

  // Trace header: fabio's TRACE lines on stderr.
  await get(f.http, 'mysite.com:9999', { Trace: 'abc' });
  await f.fabio.waitFor(/\[TRACE\] abc Tracing mysite\.com:9999\//, 5000, 'stderr');
  await f.fabio.waitFor(/\[TRACE\] abc Match mysite\.com:9999\//, 5000, 'stderr');
  await f.fabio.waitFor(/\[TRACE\] abc Routing to service mysite on http:\/\/127\.0\.0\.1:\d+\//, 5000, 'stderr');

  // Common-format access log on stdout.
  await f.fabio.waitFor(
    /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/ HTTP\/1\.1" 200 \d+$/,
    5000,
    'stdout',
  );

  // HTTPS upstream with a self-signed certificate, reached through plain HTTP.
  const certs = await makeCerts([['mysite-https.com']]);
  t.after(() => certs.cleanup());
  const leaf = certs.certs[0]!;
  const tlsBackend = createServer({ cert: leaf.pem, key: leaf.keyPem }, (_req, res) => res.end('tls backend'));
  await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', r));
  t.after(() => {
    tlsBackend.closeAllConnections();
    tlsBackend.close();
  });
  const tlsPort = (tlsBackend.address() as AddressInfo).port;
  await f.register({
    Name: 'mysite-https',
    Port: tlsPort,
    Tags: ['urlprefix-mysite-https.com:9999/ proto=https tlsskipverify=true'],
    Check: { TCP: `127.0.0.1:${tlsPort}`, Interval: '1s' },
  });
  await until(
    async () => (await f.routesRaw()).includes('route add mysite-https mysite-https.com:9999/ https://'),
    8000,
  );
  const r = await get(f.http, 'mysite-https.com:9999');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'tls backend');
});
