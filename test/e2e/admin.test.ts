// The operator surface wired into the real process: a Prometheus scrape after HTTP and TCP traffic
// shows fabio's metric names with their labels, /api/traffic carries the same traffic (single
// process and merged over worker processes), and ui.addr with cs= serves the admin port over TLS.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, connect, createServer } from 'node:net';
import { test } from 'node:test';
import { makeCerts } from '../helpers/certs.ts';
import { freePort, startFabio, until } from '../helpers/proc.ts';
import { backend, startDevFabio } from './fixtures.ts';

/** A TCP echo server on 127.0.0.1:0. */
async function echo(): Promise<{ port: number; close(): void }> {
  const s = createServer((c) => c.pipe(c));
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { port: (s.address() as AddressInfo).port, close: () => s.close() };
}

/** Sends `msg` through a TCP listener and resolves with the echo. */
async function tcpRoundTrip(port: number, msg: string): Promise<string> {
  const c = connect(port, '127.0.0.1');
  c.setEncoding('utf8');
  await once(c, 'connect');
  c.write(msg);
  let got = '';
  for await (const chunk of c) {
    got += chunk;
    if (got.length >= msg.length) break;
  }
  c.destroy();
  return got;
}

interface TrafficJson {
  routes: { service: string; host: string; path: string; total: number; targets: { url: string; total: number }[] }[];
}

test('a scrape after HTTP and TCP traffic shows fabio metric names and labels; /api/traffic counts the requests', async (t) => {
  const tcpPort = await freePort();
  const f = await startDevFabio(
    ['-metrics.prefix=fabio'],
    ({ http }) => `127.0.0.1:${http},127.0.0.1:${tcpPort};proto=tcp`,
  );
  t.after(async () => assert.equal(await f.stop(), 0));
  const web = await backend('web');
  const up = await echo();
  t.after(() => {
    web.close();
    up.close();
  });
  // Like fabio, only services with a passing check get routes.
  await f.register({
    Name: 'web',
    Port: web.port,
    Tags: ['urlprefix-/web'],
    Check: { TCP: `127.0.0.1:${web.port}`, Interval: '1s' },
  });
  await f.register({
    Name: 'db',
    Port: up.port,
    Tags: [`urlprefix-:${tcpPort} proto=tcp`],
    Check: { TCP: `127.0.0.1:${up.port}`, Interval: '1s' },
  });
  await until(async () => {
    const raw = await f.routesRaw();
    return raw.includes('route add web /web') && raw.includes(`route add db :${tcpPort} tcp://`);
  }, 10000);

  for (let i = 0; i < 3; i++) {
    const r = await fetch(`http://127.0.0.1:${f.http}/web`);
    assert.equal(await r.text(), 'web');
  }
  assert.equal((await fetch(`http://127.0.0.1:${f.http}/nothing-here`)).status, 404);
  assert.equal(await tcpRoundTrip(tcpPort, 'ping over tcp'), 'ping over tcp');

  const webTarget = `http://127.0.0.1:${web.port}/`;
  const dbTarget = `tcp://127.0.0.1:${up.port}`;
  // TCP byte counters are written when the connection closes: poll the scrape until they are there.
  const body = await until(async () => {
    const m = await (await fetch(`${f.ui}/metrics`)).text();
    return /^fabio_route_rx\{[^}]*service="db"/m.test(m) ? m : undefined;
  }, 5000);
  const line = (re: RegExp) => body.split('\n').find((l) => re.test(l));
  assert.ok(
    line(new RegExp(`^fabio_route_count\\{service="web",host="",path="/web",target="${webTarget}"\\} 3$`)),
    'route histogram count per target',
  );
  assert.ok(line(/^fabio_requests_count\{service="web"\} 3$/), 'requests per service');
  assert.ok(line(/^fabio_http_status_count\{code="200",service="web"\} 3$/), 'status per code');
  assert.ok(line(/^fabio_notfound 1$/), 'notfound counter');
  assert.ok(line(/^fabio_tcp_conn 1$/), 'tcp connections');
  assert.ok(
    line(new RegExp(`^fabio_route_rx\\{service="db",host=":${tcpPort}",path="",target="${dbTarget}"\\} 13$`)),
    body,
  );
  assert.ok(
    line(new RegExp(`^fabio_route_tx\\{service="db",host=":${tcpPort}",path="",target="${dbTarget}"\\} 13$`)),
    'tx bytes',
  );
  assert.ok(line(/^process_resident_memory_bytes \d+/), 'process metrics');

  const traffic = (await (await fetch(`${f.ui}/api/traffic`)).json()) as TrafficJson;
  const route = traffic.routes.find((r) => r.service === 'web');
  assert.equal(route?.total, 3);
  assert.deepEqual(
    route?.targets.map((x) => [x.url, x.total]),
    [[webTarget, 3]],
  );
});

test('with two worker processes /api/traffic, /metrics and a proto=prometheus listener add up every worker', async (t) => {
  const prom = await freePort();
  const f = await startDevFabio(
    ['-proxy.workers=2', '-metrics.prefix=fabio'],
    ({ http }) => `127.0.0.1:${http},127.0.0.1:${prom};proto=prometheus`,
  );
  t.after(async () => assert.equal(await f.stop(), 0));
  const web = await backend('web');
  t.after(() => web.close());
  await f.register({
    Name: 'web',
    Port: web.port,
    Tags: ['urlprefix-/web'],
    Check: { TCP: `127.0.0.1:${web.port}`, Interval: '1s' },
  });
  await until(async () => (await f.routesRaw()).includes('route add web /web'), 10000);
  // Each request on a new connection, so the kernel may hand them to either worker.
  const n = 20;
  for (let i = 0; i < n; i++) {
    const r = await fetch(`http://127.0.0.1:${f.http}/web`, { headers: { connection: 'close' } });
    assert.equal(await r.text(), 'web');
  }
  const traffic = (await (await fetch(`${f.ui}/api/traffic`)).json()) as TrafficJson;
  const m = await (await fetch(`${f.ui}/metrics`)).text();
  const counts = m.split('\n').filter((l) => l.includes('requests_count'));
  assert.equal(
    traffic.routes.find((r) => r.service === 'web')?.total,
    n,
    `${JSON.stringify(traffic)}\n${counts.join('\n')}`,
  );
  assert.match(m, new RegExp(`^fabio_requests_count\\{service="web"\\} ${n}$`, 'm'));
  // the listener lives in a worker, but answers for all of them
  for (let i = 0; i < 4; i++) {
    const p = await (await fetch(`http://127.0.0.1:${prom}/metrics`, { headers: { connection: 'close' } })).text();
    assert.match(p, new RegExp(`^fabio_requests_count\\{service="web"\\} ${n}$`, 'm'));
  }
});

test('ui.addr with cs= serves the admin API over TLS; /api/config masks the Consul token', async (t) => {
  const certs = await makeCerts([['localhost', '127.0.0.1']]);
  t.after(() => certs.cleanup());
  const leaf = certs.certs[0]!;
  const [ui, http] = [await freePort(), await freePort()];
  const f = startFabio([
    `-proxy.cs=cs=admin;type=file;cert=${leaf.certFile};key=${leaf.keyFile}`,
    `-ui.addr=127.0.0.1:${ui};cs=admin`,
    `-proxy.addr=127.0.0.1:${http}`,
    '-proxy.workers=1',
    '-registry.backend=static',
    '-registry.static.routes=route add a /a http://127.0.0.1:1/',
    '-registry.consul.token=s3cret-token',
  ]);
  t.after(async () => assert.equal(await f.stop(), 0));
  await f.waitFor(/proxy listening on/, 30000);
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: ui, path, ca: certs.ca.pem, servername: 'localhost' },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const health = await until(() => get('/health').catch(() => undefined), 10000);
  assert.deepEqual(health, { status: 200, body: 'OK\n' });
  const cfg = await get('/api/config');
  assert.equal(cfg.status, 200);
  assert.doesNotMatch(cfg.body, /s3cret-token/);
  assert.match(cfg.body, /"Strategy"/);
  // plain HTTP to the TLS port gets no answer
  await assert.rejects(fetch(`http://127.0.0.1:${ui}/health`));
});
