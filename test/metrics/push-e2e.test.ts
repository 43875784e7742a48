// Push metrics end to end: a fabio-ts process with -dev, real requests through its HTTP listener,
// and receivers on 127.0.0.1:0 that see fabio's metric names: graphite over TCP, statsd_raw and
// dogstatsd over UDP. The second test runs two worker processes and checks that the primary sends
// each request once (the counts add up, nothing is counted twice).
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { backend, startDevFabio } from '../e2e/fixtures.ts';
import { freePort, until } from '../helpers/proc.ts';

async function udpReceiver(): Promise<{ port: number; lines: string[]; close(): void }> {
  const sock = createSocket('udp4');
  const lines: string[] = [];
  sock.on('message', (m) => {
    for (const l of m.toString('utf8').split('\n')) if (l !== '') lines.push(l);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { port: sock.address().port, lines, close: () => sock.close() };
}

async function tcpReceiver(): Promise<{ port: number; lines: string[]; close(): void }> {
  const lines: string[] = [];
  const socks: Socket[] = [];
  const srv = createServer((s) => {
    socks.push(s);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as AddressInfo).port,
    lines,
    close: () => {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { Host: host } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** statsd `name:value|ms|@rate`: how many observations the line stands for. */
function observations(line: string): number {
  const m = /\|@([0-9.]+)/.exec(line);
  return m ? Math.round(1 / Number(m[1])) : 1;
}

async function run(t: import('node:test').TestContext, workers: number, requests: number) {
  const graphite = await tcpReceiver();
  const statsd = await udpReceiver();
  const dog = await udpReceiver();
  const be = await backend('svc');
  t.after(() => {
    graphite.close();
    statsd.close();
    dog.close();
    return be.close();
  });
  const f = await startDevFabio([
    `-proxy.workers=${workers}`,
    '-metrics.target=prometheus,graphite,statsd_raw,dogstatsd',
    '-metrics.prefix=fab.{{clean .Exec}}',
    '-metrics.interval=100ms',
    `-metrics.graphite.addr=127.0.0.1:${graphite.port}`,
    `-metrics.statsd.addr=127.0.0.1:${statsd.port}`,
    `-metrics.dogstatsd.addr=127.0.0.1:${dog.port}`,
  ]);
  t.after(() => f.stop());
  if (workers > 1) await f.fabio.waitFor(new RegExp(`${workers} worker processes serving`), 30000);
  await f.register({
    ID: 'svc-1',
    Name: 'svc',
    Port: be.port,
    Tags: ['urlprefix-svc.test/'],
    Check: { HTTP: `http://127.0.0.1:${be.port}/`, Interval: '1s' },
  });
  await until(async () => (await f.routesRaw()).includes('route add svc svc.test/'), 10000);

  for (let i = 0; i < requests; i++) assert.equal(await get(f.http, 'svc.test'), 200);
  assert.equal(await get(f.http, 'nothing.test'), 404);

  const route = `fab.fabio.svc.svc_test./.127_0_0_1_${be.port}`;
  const count = (lines: string[], prefix: string) =>
    lines.filter((l) => l.startsWith(prefix)).reduce((n, l) => n + observations(l), 0);
  // statsd_raw: the route timer, requests and http.status per service, notfound as a counter
  await until(() => count(statsd.lines, `fab.fabio.requests.service.svc:`) >= requests, 15000);
  await until(() => statsd.lines.some((l) => l === 'fab.fabio.notfound:1|c'), 15000);
  assert.equal(count(statsd.lines, `${route}:`), requests, statsd.lines.join('\n'));
  assert.equal(count(statsd.lines, 'fab.fabio.http.status.code.200.service.svc:'), requests);
  assert.equal(count(statsd.lines, 'fab.fabio.requests.service.svc:'), requests);
  for (const l of statsd.lines.filter((x) => x.startsWith(`${route}:`)))
    assert.match(l, /^[^:]+:[0-9.]+\|ms(\|@[0-9.]+)?$/);

  // dogstatsd: fabio's names with tags, reserved tag keys renamed
  await until(() => count(dog.lines, 'fab.fabio.route:') >= requests, 15000);
  const tagged = dog.lines.find((l) => l.startsWith('fab.fabio.route:')) ?? '';
  assert.match(
    tagged,
    new RegExp(
      `\\|h(\\|@[0-9.]+)?\\|#fabio-service:svc,fabio-host:svc\\.test,path:/,target:http://127\\.0\\.0\\.1:${be.port}/$`,
    ),
  );
  assert.ok(
    dog.lines.some((l) => l === 'fab.fabio.notfound:1|c'),
    dog.lines.join('\n'),
  );

  // graphite plaintext: `name value timestamp`, timer quantiles in milliseconds
  await until(() => graphite.lines.some((l) => l.startsWith(`${route}.p99 `)), 15000);
  await until(() => graphite.lines.some((l) => l.startsWith('fab.fabio.notfound 1 ')), 15000);
  for (const q of ['p50', 'p90', 'p95', 'p99']) {
    assert.ok(
      graphite.lines.some((l) =>
        new RegExp(`^fab\\.fabio\\.http\\.status\\.code\\.200\\.service\\.svc\\.${q} [0-9.]+ \\d{10}$`).test(l),
      ),
      `${q}: ${graphite.lines.join('\n')}`,
    );
  }
  // the counter deltas add up to what happened, whatever the number of processes
  const notfound = graphite.lines
    .filter((l) => l.startsWith('fab.fabio.notfound '))
    .reduce((n, l) => n + Number(l.split(' ')[1]), 0);
  assert.equal(notfound, 1);
}

test('one process: graphite, statsd_raw and dogstatsd receive fabio names after real requests', async (t) => {
  await run(t, 1, 3);
});

test('two workers: the primary pushes the merged view, every request counted once', async (t) => {
  await run(t, 2, 6);
});

test('graphite receiver down: the proxy keeps serving and logs one warning for the whole outage', async (t) => {
  const statsd = await udpReceiver();
  const dead = { port: await freePort() }; // nothing listens there: connections are refused
  const be = await backend('svc');
  t.after(() => {
    statsd.close();
    return be.close();
  });
  const f = await startDevFabio([
    '-metrics.target=graphite,statsd_raw',
    '-metrics.prefix=fab',
    '-metrics.interval=50ms',
    `-metrics.graphite.addr=127.0.0.1:${dead.port}`,
    `-metrics.statsd.addr=127.0.0.1:${statsd.port}`,
  ]);
  t.after(() => f.stop());
  await f.register({
    ID: 'svc-1',
    Name: 'svc',
    Port: be.port,
    Tags: ['urlprefix-svc.test/'],
    Check: { HTTP: `http://127.0.0.1:${be.port}/`, Interval: '1s' },
  });
  await until(async () => (await f.routesRaw()).includes('route add svc svc.test/'), 10000);
  // several intervals with traffic while the sender re-dials graphite with backoff
  for (let i = 1; i <= 5; i++) {
    assert.equal(await get(f.http, 'svc.test'), 200);
    await until(() => statsd.lines.filter((l) => l.startsWith('fab.requests.service.svc:')).length >= i, 10000);
  }
  await f.fabio.waitFor(/\[WARN\] metrics: graphite/);
  assert.equal(f.fabio.stderr.filter((l) => l.includes('metrics: graphite')).length, 1, f.fabio.stderr.join('\n'));
});
