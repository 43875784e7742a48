// Acceptance of the TCP / TLS-SNI passthrough issue, end to end with the embedded catalog and the
// listeners of the walkthrough (http, tcp, tcp+sni): a TLS backend behind a raw TCP route, two TLS
// backends behind one SNI port, and an unknown server name closed without disturbing the others.
import assert from 'node:assert/strict';
import { createServer, get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { makeCerts } from '../helpers/certs.ts';
import { freePort, until } from '../helpers/proc.ts';
import { startDevFabio } from './fixtures.ts';

function httpsGet(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/', servername, rejectUnauthorized: false, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

test('tcp route to a TLS backend, two SNI names on one port, unknown name closed', async (t) => {
  const [tcpPort, sniPort] = [await freePort(), await freePort()];
  const f = await startDevFabio(
    [],
    ({ http }) => `127.0.0.1:${http};proto=http,127.0.0.1:${tcpPort};proto=tcp,127.0.0.1:${sniPort};proto=tcp+sni`,
  );
  t.after(async () => assert.equal(await f.stop(), 0));
  const certs = await makeCerts([['tcp-backend.test'], ['mysite-sni-1.com'], ['mysite-sni-2.com']]);
  t.after(() => certs.cleanup());

  const servers = await Promise.all(
    certs.certs.map(async (c, i) => {
      const s = createServer({ cert: c.pem, key: c.keyPem }, (_req, res) => res.end(`backend ${i}`));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  t.after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });
  const port = (i: number) => (servers[i]!.address() as AddressInfo).port;
  const tags = [
    `urlprefix-:${tcpPort} proto=tcp`,
    'urlprefix-mysite-sni-1.com/ proto=tcp+sni',
    'urlprefix-mysite-sni-2.com/ proto=tcp+sni',
  ];
  for (let i = 0; i < 3; i++) {
    await f.register({
      Name: `svc-${i}`,
      Port: port(i),
      Tags: [tags[i]],
      Check: { TCP: `127.0.0.1:${port(i)}`, Interval: '1s' },
    });
  }
  await until(async () => {
    const raw = await f.routesRaw();
    return raw.includes(`:${tcpPort} tcp://`) && raw.includes('mysite-sni-1.com/') && raw.includes('mysite-sni-2.com/');
  }, 8000);

  // curl -k https://127.0.0.1:<tcp port>/
  assert.equal(await httpsGet(tcpPort, 'tcp-backend.test'), 'backend 0');
  // curl -k --resolve mysite-sni-N.com:<sni port>:127.0.0.1 https://mysite-sni-N.com:<sni port>/
  assert.equal(await httpsGet(sniPort, 'mysite-sni-1.com'), 'backend 1');
  assert.equal(await httpsGet(sniPort, 'mysite-sni-2.com'), 'backend 2');
  await assert.rejects(httpsGet(sniPort, 'unknown.example'));
  // The others are unaffected.
  assert.equal(await httpsGet(sniPort, 'mysite-sni-1.com'), 'backend 1');
  assert.equal(await httpsGet(tcpPort, 'tcp-backend.test'), 'backend 0');
});
