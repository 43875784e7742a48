import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { cleanGo, compileNames, DEFAULT_NAMES } from '../../src/metrics/names.ts';
import { createPrometheusMetrics } from '../../src/metrics/prometheus.ts';
import { startPush } from '../../src/metrics/push.ts';
import { formatLines, type NameContext } from '../../src/metrics/push-format.ts';
import { IntervalTracker, PUSHED_METRICS, quantileMs } from '../../src/metrics/push-snapshot.ts';
import { chunkLines, graphiteSender, splitAddr } from '../../src/metrics/push-transport.ts';
import type { Route, Target } from '../../src/routes/types.ts';
import { freePort, until } from '../helpers/proc.ts';
import { fakeConfig } from '../ui/fake-config.ts';

function target(service: string, url: string): Target {
  return { service, url, key: `${service}\u0000${url}`, tags: [], opts: {}, weight: 1 } as unknown as Target;
}
function route(host: string, path: string, targets: Target[]): Route {
  return { host, path, targets } as unknown as Route;
}

const cfg = (over: Record<string, string | number | boolean> = {}) =>
  fakeConfig({ 'metrics.prefix': '{{clean .Hostname}}.{{clean .Exec}}', ...over });
const promNames = () => new Map(PUSHED_METRICS.map((n) => [`web_1_fabio_${n.replace(/\./g, '_')}`, n]));
const ctx: NameContext = { prefix: 'web-1.fabio', routeName: compileNames(DEFAULT_NAMES) };

describe('names template (metrics.names)', () => {
  const cases: [string, string, string][] = [
    ['fabio example', 'http://10.1.2.3:12345/', 'testservice.www_example_com./.10_1_2_3_12345'],
    ['explicit default port kept as written', 'http://10.1.2.3:80/', 'testservice.www_example_com./.10_1_2_3_80'],
    ['ipv6 target', 'http://[::1]:8080/', 'testservice.www_example_com./.[__1]_8080'],
  ];
  const names = compileNames(DEFAULT_NAMES);
  for (const [name, url, want] of cases) {
    test(name, () => assert.equal(names('testservice', 'www.example.com', '/', url), want));
  }
  test('fabio clean keeps - and /, lower-cases, maps . and :', () => {
    assert.equal(cleanGo('My-Host.dc:1'), 'my-host_dc_1');
    assert.equal(cleanGo(''), '_');
  });
  test('other fields and literal text', () => {
    const n = compileNames('r.{{.TargetURL.Scheme}}.{{clean .TargetURL.Hostname}}.{{ .TargetURL.Port }}');
    assert.equal(n('s', 'h', '/p', 'https://a.b:8443/x'), 'r.https.a_b.8443');
  });
  for (const bad of ['{{.Nope}}', '{{printf "%s" .Service}}', 'x.{{.Service']) {
    test(`unsupported template ${bad} fails at start-up`, () =>
      assert.throws(() => compileNames(bad), /metrics.names/));
  }
});

describe('interval deltas from the prometheus registry', () => {
  test('counters, timers and gauges: fabio names per backend, milliseconds, only what changed', async () => {
    const m = createPrometheusMetrics(cfg(), { hostname: 'web-1', collectDefault: false });
    const tr = new IntervalTracker(promNames());
    // the first push reports what happened since start
    const t1 = target('svc', 'http://10.1.2.3:12345/');
    const r1 = route('www.example.com', '/', [t1]);
    m.httpRequest(r1, t1, 200, 0.004);
    m.httpRequest(r1, t1, 200, 0.006);
    m.httpRequest(r1, t1, 503, 0.02);
    m.notFound();
    m.tcpConn('tcp_sni');
    m.routeBytes(r1, t1, 100, 7);
    m.wsConn(1);
    let s = tr.next([{ id: '1', metrics: await m.metricsJson() }]);

    const statsd = formatLines('statsd_raw', ctx, s, 1700000000);
    assert.ok(statsd.includes('web-1.fabio.notfound:1|c'), statsd.join('\n'));
    assert.ok(statsd.includes('web-1.fabio.tcp_sni.conn:1|c'));
    assert.ok(statsd.includes('web-1.fabio.svc.www_example_com./.10_1_2_3_12345.rx:100|c'));
    assert.ok(statsd.includes('web-1.fabio.svc.www_example_com./.10_1_2_3_12345.tx:7|c'));
    assert.ok(statsd.includes('web-1.fabio.ws.conn:1|g'));
    // three observations, mean 10 ms, sent once with sample rate 1/3 so statsd counts three
    assert.ok(statsd.includes('web-1.fabio.svc.www_example_com./.10_1_2_3_12345:10|ms|@0.333'), statsd.join('\n'));
    assert.ok(statsd.includes('web-1.fabio.http.status.code.200.service.svc:5|ms|@0.5'));
    assert.ok(statsd.includes('web-1.fabio.http.status.code.503.service.svc:20|ms'));
    assert.ok(statsd.includes('web-1.fabio.requests.service.svc:10|ms|@0.333'));
    // counters that did not move are not sent
    assert.ok(!statsd.some((l) => l.startsWith('web-1.fabio.tcp.conn:')));

    const dog = formatLines('dogstatsd', ctx, s, 0);
    assert.ok(
      dog.includes(
        'web-1.fabio.route:10|h|@0.333|#fabio-service:svc,fabio-host:www.example.com,path:/,target:http://10.1.2.3:12345/',
      ),
      dog.join('\n'),
    );
    assert.ok(dog.includes('web-1.fabio.http.status:20|h|#code:503,fabio-service:svc'));
    assert.ok(dog.includes('web-1.fabio.notfound:1|c'));

    const graphite = formatLines('graphite', ctx, s, 1700000000);
    assert.ok(graphite.includes('web-1.fabio.notfound 1 1700000000'), graphite.join('\n'));
    const p = graphite.filter((l) => l.startsWith('web-1.fabio.http.status.code.200.service.svc.p'));
    assert.deepEqual(
      p.map((l) => l.split(' ')[0]),
      ['p50', 'p90', 'p95', 'p99'].map((q) => `web-1.fabio.http.status.code.200.service.svc.${q}`),
    );
    for (const l of p) {
      const v = Number(l.split(' ')[1]);
      assert.ok(v > 0 && v <= 10, l); // inside the 5..10 ms bucket
    }

    const flat = formatLines('flat', ctx, s, 0);
    assert.ok(flat.includes('web-1.fabio.notfound:1|c'));
    assert.ok(flat.includes(':web-1.fabio.requests.service.svc:10|ms'));
    const label = formatLines('label', ctx, s, 0);
    assert.ok(label.includes('web-1.fabio.http.status:20|ms|#code:503,service:svc'), label.join('\n'));

    // second interval: only the new request; flat/label print the running total as fabio does
    m.notFound();
    s = tr.next([{ id: '1', metrics: await m.metricsJson() }]);
    assert.deepEqual(
      formatLines('statsd_raw', ctx, s, 0).filter((l) => !l.includes('|g')),
      ['web-1.fabio.notfound:1|c'],
    );
    assert.ok(formatLines('flat', ctx, s, 0).includes('web-1.fabio.notfound:2|c'));
  });

  test('several processes: deltas per process, a replaced worker restarts from zero, nothing counted twice', async () => {
    const a = createPrometheusMetrics(cfg(), { hostname: 'web-1', collectDefault: false });
    let b = createPrometheusMetrics(cfg(), { hostname: 'web-1', collectDefault: false });
    const tr = new IntervalTracker(promNames());
    const total = (s: ReturnType<IntervalTracker['next']>) =>
      s.find((x) => x.name === 'notfound' && x.kind === 'counter') as { delta: number } | undefined;
    a.notFound();
    a.notFound();
    b.notFound();
    assert.equal(
      total(
        tr.next([
          { id: 'a', metrics: await a.metricsJson() },
          { id: 'b', metrics: await b.metricsJson() },
        ]),
      )?.delta,
      3,
    );
    a.notFound();
    // worker b died; its replacement c has fresh counters
    b = createPrometheusMetrics(cfg(), { hostname: 'web-1', collectDefault: false });
    b.notFound();
    assert.equal(
      total(
        tr.next([
          { id: 'a', metrics: await a.metricsJson() },
          { id: 'c', metrics: await b.metricsJson() },
        ]),
      )?.delta,
      2,
    );
    assert.equal(
      total(
        tr.next([
          { id: 'a', metrics: await a.metricsJson() },
          { id: 'c', metrics: await b.metricsJson() },
        ]),
      )?.delta,
      0,
    );
  });

  test('quantiles interpolate inside the bucket; +Inf falls back to the highest bound', () => {
    const b: [number, number][] = [
      [5, 0],
      [10, 4],
      [Number.POSITIVE_INFINITY, 0],
    ];
    assert.equal(quantileMs(b, 4, 0.5), 7.5);
    assert.equal(
      quantileMs(
        [
          [5, 0],
          [10, 0],
          [Number.POSITIVE_INFINITY, 2],
        ],
        2,
        0.99,
      ),
      10,
    );
    assert.equal(quantileMs(b, 0, 0.5), 0);
  });
});

describe('transports', () => {
  test('addresses and datagram chunks', () => {
    assert.deepEqual(splitAddr('127.0.0.1:8125'), { host: '127.0.0.1', port: 8125 });
    assert.deepEqual(splitAddr('[::1]:8125'), { host: '::1', port: 8125 });
    assert.equal(splitAddr('nohost'), undefined);
    assert.equal(splitAddr('h:99999'), undefined);
    const chunks = chunkLines(['a'.repeat(600), 'b'.repeat(600), 'c'.repeat(600)], 1400);
    assert.deepEqual(
      chunks.map((c) => c.length),
      [1202, 601],
    );
  });

  test('graphite receiver down: logs once, keeps a bounded backlog, reconnects with backoff and delivers', async (t) => {
    const port = await freePort();
    const log = memoryLogger('INFO');
    const g = graphiteSender(`127.0.0.1:${port}`, log, { backoffMinMs: 10, backoffMaxMs: 40 });
    t.after(() => g.close());
    g.send(['a.one 1 1']);
    await until(() => log.lines.some((l) => l.includes('[WARN] metrics: graphite')));
    g.send(['a.two 2 2']);
    const got: string[] = [];
    const sockets: Socket[] = [];
    const srv = createServer((s) => {
      sockets.push(s);
      s.setEncoding('utf8');
      s.on('data', (d: string) => got.push(d));
    });
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    t.after(() => {
      for (const s of sockets) s.destroy();
      srv.close();
    });
    await until(() => got.join('').includes('a.two 2 2'), 10000);
    assert.equal(got.join(''), 'a.one 1 1\na.two 2 2\n');
    assert.equal(log.lines.filter((l) => l.includes('[WARN]')).length, 1, log.lines.join('\n'));
    await until(() => log.lines.some((l) => l.includes('[INFO] metrics: graphite') && l.includes('sending again')));
  });
});

describe('startPush', () => {
  test('a short interval pushes to stdout (flat) without being asked', async (t) => {
    const m = createPrometheusMetrics(cfg(), { hostname: 'web-1', collectDefault: false });
    const out: string[] = [];
    const p = startPush({
      cfg: cfg({ 'metrics.target': 'prometheus,stdout', 'metrics.interval': 20 }),
      log: memoryLogger(),
      hostname: 'web-1',
      snapshot: async () => [{ id: '1', metrics: await m.metricsJson() }],
      write: (s) => out.push(s),
    });
    t.after(() => p.close());
    assert.deepEqual(p.targets, ['flat']);
    m.tcpNoRoute('tcp');
    await until(() => out.join('').includes('web-1.fabio.tcp.noroute:1|c'));
  });

  test('no push target: nothing runs', () => {
    const p = startPush({
      cfg: cfg({ 'metrics.target': 'prometheus' }),
      log: memoryLogger(),
      snapshot: async () => [],
    });
    assert.deepEqual(p.targets, []);
    p.close();
  });
});
