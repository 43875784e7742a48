import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clean, fullName, namespace, parseBuckets, renderPrefix } from '../../src/metrics/names.ts';
import { createPrometheusMetrics, mergeMetricsText } from '../../src/metrics/prometheus.ts';
import type { Route, Table, Target } from '../../src/routes/types.ts';
import { fakeConfig } from '../ui/fake-config.ts';

function target(service: string, url: string): Target {
  return { service, url, key: `${service}\u0000${url}`, tags: [], opts: {}, weight: 1 } as unknown as Target;
}
function route(host: string, path: string, targets: Target[]): Route {
  return { host, path, targets };
}
function table(routes: Route[]): Table {
  return { routes } as unknown as Table;
}

describe('names', () => {
  const cases: [string, string][] = [
    ['MyHost.Example', 'myhost_example'],
    ['a:b', 'a_b'],
    ['my-host', 'my_host'],
    ['', '_'],
  ];
  for (const [i, o] of cases) test(`clean(${JSON.stringify(i)}) = ${o}`, () => assert.equal(clean(i), o));
  test('prefix template', () => {
    assert.equal(
      renderPrefix('{{clean .Hostname}}.{{clean .Exec}}', { Hostname: 'Web-1.dc', Exec: 'fabio' }),
      'web_1_dc.fabio',
    );
    assert.equal(renderPrefix('default', { Hostname: 'h', Exec: 'fabio' }), 'h.fabio');
    assert.equal(renderPrefix('x.{{.Hostname}}', { Hostname: 'H', Exec: 'fabio' }), 'x.H');
    assert.equal(
      namespace('{{clean .Hostname}}.{{clean .Exec}}', { Hostname: 'my-host', Exec: 'fabio' }),
      'my_host_fabio',
    );
    assert.equal(fullName('ns', '', 'http.status'), 'ns_http_status');
    assert.equal(fullName('ns', 'Sub', 'route.rx'), 'ns_sub_route_rx');
    assert.deepEqual(parseBuckets('.5, .005,x,1'), [0.005, 0.5, 1]);
  });
});

describe('prometheus metrics', () => {
  test('fabio names and labels, no _total suffix, pruning', async () => {
    const m = createPrometheusMetrics(fakeConfig({ 'metrics.prometheus.buckets': '.1,1' }), {
      hostname: 'my-host',
      collectDefault: false,
    });
    assert.equal(m.prefix, 'my_host_fabio_');
    const t1 = target('svc', 'http://10.0.0.1:80/');
    const t2 = target('svc', 'http://10.0.0.2:80/');
    const r = route('example.com', '/', [t1, t2]);
    m.httpRequest(r, t1, 200, 0.05);
    m.httpRequest(r, t1, 200, 0.5);
    m.httpRequest(r, t2, 502, 2);
    m.notFound();
    m.redirect(301);
    m.wsConn(1);
    m.wsConn(1);
    m.wsConn(-1);
    m.tcpConn('tcp');
    m.tcpConnFail('tcp_sni');
    m.tcpNoRoute('tcp_sni');
    const tt = target('db', 'tcp://10.0.0.5:5432');
    const tr = route(':5432', '/', [tt]);
    m.routeBytes(tr, tt, 100, 40);
    const body = (await m.text()).body;
    const want = [
      'my_host_fabio_route_bucket{le="0.1",service="svc",host="example.com",path="/",target="http://10.0.0.1:80/"} 1',
      'my_host_fabio_route_count{service="svc",host="example.com",path="/",target="http://10.0.0.1:80/"} 2',
      'my_host_fabio_route_count{service="svc",host="example.com",path="/",target="http://10.0.0.2:80/"} 1',
      'my_host_fabio_requests_count{service="svc"} 3',
      'my_host_fabio_http_status_count{code="200",service="svc"} 2',
      'my_host_fabio_http_status_count{code="502",service="svc"} 1',
      'my_host_fabio_http_redirect_count{code="301"} 1',
      'my_host_fabio_notfound 1',
      'my_host_fabio_ws_conn 1',
      'my_host_fabio_tcp_conn 1',
      'my_host_fabio_tcp_connfail 0',
      'my_host_fabio_tcp_sni_connfail 1',
      'my_host_fabio_tcp_sni_noroute 1',
      'my_host_fabio_route_rx{service="db",host=":5432",path="/",target="tcp://10.0.0.5:5432"} 100',
      'my_host_fabio_route_tx{service="db",host=":5432",path="/",target="tcp://10.0.0.5:5432"} 40',
      '# TYPE my_host_fabio_notfound counter',
    ];
    for (const w of want) assert.ok(body.includes(w), `missing ${w}\n${body}`);
    assert.ok(!/_total\b/.test(body), 'no _total suffix');

    // t2 and the tcp route leave the table: their label sets go.
    m.pruneTargets(table([route('example.com', '/', [t1])]));
    const after = (await m.text()).body;
    assert.ok(after.includes('target="http://10.0.0.1:80/"'));
    assert.ok(!after.includes('target="http://10.0.0.2:80/"'));
    assert.ok(!after.includes('route_rx{'));
    // A target that comes back is counted again from zero.
    m.httpRequest(r, t2, 200, 0.01);
    assert.ok(
      (await m.text()).body.includes(
        'my_host_fabio_route_count{service="svc",host="example.com",path="/",target="http://10.0.0.2:80/"} 1',
      ),
    );
  });
  test('subsystem and default process metrics', async () => {
    const m = createPrometheusMetrics(
      fakeConfig({ 'metrics.prefix': 'fabio', 'metrics.prometheus.subsystem': 'Edge' }),
    );
    const body = (await m.text()).body;
    assert.match(body, /^fabio_edge_notfound 0$/m);
    assert.match(body, /^process_cpu_user_seconds_total /m);
    assert.match((await m.text()).contentType, /^text\/plain/);
  });
  test('httpRequest feeds the traffic stats', () => {
    const m = createPrometheusMetrics(fakeConfig(), { collectDefault: false });
    const t1 = target('svc', 'http://10.0.0.1:80/');
    const r = route('a', '/', [t1]);
    for (let i = 0; i < 10; i++) m.httpRequest(r, t1, i === 0 ? 500 : 200, 0.01);
    const rep = m.traffic.report();
    assert.equal(rep.routes.length, 1);
    assert.equal(rep.routes[0]!.total, 10);
    assert.equal(rep.routes[0]!.totalErrors, 1);
    assert.equal(rep.routes[0]!.targets[0]!.url, 'http://10.0.0.1:80/');
  });
  test('mergeMetricsText sums the workers', async () => {
    const cfg = fakeConfig({ 'metrics.prefix': 'fabio' });
    const a = createPrometheusMetrics(cfg, { collectDefault: false });
    const b = createPrometheusMetrics(cfg, { collectDefault: false });
    const t1 = target('svc', 'http://10.0.0.1:80/');
    const r = route('a', '/', [t1]);
    a.httpRequest(r, t1, 200, 0.01);
    b.httpRequest(r, t1, 200, 0.01);
    b.notFound();
    a.notFound();
    a.notFound();
    const merged = (await mergeMetricsText([await a.metricsJson(), await b.metricsJson()])).body;
    assert.match(merged, /^fabio_notfound 3$/m);
    assert.match(merged, /^fabio_route_count\{service="svc",host="a",path="\/",target="http:\/\/10.0.0.1:80\/"\} 2$/m);
  });

  test('repeated observations on one label set land in the right fractional bucket (the cell path)', async () => {
    const m = createPrometheusMetrics(fakeConfig({ 'metrics.prometheus.buckets': '.1,.25,1' }), {
      collectDefault: false,
    });
    const t1 = target('svc', 'http://10.0.0.1:80/');
    const r = route('a', '/', [t1]);
    // The first observation goes through prom-client, the next ones through the cell's own update.
    for (let i = 0; i < 4; i++) m.httpRequest(r, t1, 200, 0.2);
    m.httpRequest(r, t1, 200, 0.05);
    const body = (await m.text()).body;
    const bucket = (le: string) =>
      new RegExp(`^\\w*fabio_route_bucket\\{le="${le}",service="svc"[^}]*\\} (\\d+)$`, 'm');
    assert.equal(body.match(bucket('0.1'))?.[1], '1');
    assert.equal(body.match(bucket('0.25'))?.[1], '5');
    assert.equal(body.match(bucket('1'))?.[1], '5');
  });
});
