import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { backend, echo, get, pathTest, proxy, until } from './harness.ts';

const FIELDS = [
  'remote_addr',
  'remote_host',
  'remote_port',
  'request',
  'request_args',
  'request_host',
  'request_method',
  'request_proto',
  'request_scheme',
  'request_uri',
  'request_url',
  'response_status',
  'response_body_size',
  'response_time_ms',
  'response_time_us',
  'response_time_ns',
  'time_rfc3339',
  'time_rfc3339_ms',
  'time_rfc3339_us',
  'time_rfc3339_ns',
  'time_unix_ms',
  'time_unix_us',
  'time_unix_ns',
  'time_common',
  'upstream_addr',
  'upstream_host',
  'upstream_port',
  'upstream_request_scheme',
  'upstream_request_uri',
  'upstream_request_url',
  'upstream_service',
  'header.X-Request-Id',
  'header.User-Agent',
];

pathTest('access log: every field on a real request', async (t) => {
  const be = await backend(t, echo);
  const format = FIELDS.map((f) => `${f}=$${f}`).join('|');
  const p = await proxy(t, `route add svc-x a.com:9999/api ${be.url}/ opts "strip=/api"`, {
    'log.access.format': format,
    'proxy.header.requestid': 'X-Request-Id',
  });
  const before = Date.now();
  const r = await get(p.port, '/api/v1?k=v', { host: 'a.com:9999', 'user-agent': 'ua/1' });
  assert.equal(r.status, 200);
  await until(() => p.access.length === 1);
  const line = p.access[0] ?? '';
  assert.ok(line.endsWith('\n'));
  const m = new Map(
    line
      .trimEnd()
      .split('|')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const),
  );
  const be_ = `127.0.0.1:${be.port}`;
  assert.match(m.get('remote_addr') ?? '', /^127\.0\.0\.1:\d+$/);
  assert.equal(m.get('remote_host'), '127.0.0.1');
  assert.match(m.get('remote_port') ?? '', /^\d+$/);
  assert.equal(m.get('request'), 'GET /api/v1?k=v HTTP/1.1');
  assert.equal(m.get('request_args'), 'k=v');
  assert.equal(m.get('request_host'), 'a.com:9999');
  assert.equal(m.get('request_method'), 'GET');
  assert.equal(m.get('request_proto'), 'HTTP/1.1');
  assert.equal(m.get('request_scheme'), 'http');
  assert.equal(m.get('request_uri'), '/api/v1?k=v');
  assert.equal(m.get('request_url'), 'http://a.com:9999/api/v1?k=v');
  assert.equal(m.get('response_status'), '200');
  assert.equal(m.get('response_body_size'), String(r.body.length));
  assert.match(m.get('response_time_ms') ?? '', /^\d+\.\d{3}$/);
  assert.match(m.get('response_time_us') ?? '', /^\d+\.\d{6}$/);
  assert.match(m.get('response_time_ns') ?? '', /^\d+\.\d{9}$/);
  assert.match(m.get('time_rfc3339') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(m.get('time_rfc3339_ms') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(m.get('time_rfc3339_us') ?? '', /\.\d{6}Z$/);
  assert.match(m.get('time_rfc3339_ns') ?? '', /\.\d{9}Z$/);
  const ms = Number(m.get('time_unix_ms'));
  assert.ok(ms >= before && ms <= Date.now(), String(ms));
  assert.equal(m.get('time_unix_us')?.slice(0, 13), String(ms));
  assert.equal(m.get('time_unix_ns')?.slice(0, 13), String(ms));
  assert.match(m.get('time_common') ?? '', /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
  assert.equal(m.get('upstream_addr'), be_);
  assert.equal(m.get('upstream_host'), '127.0.0.1');
  assert.equal(m.get('upstream_port'), String(be.port));
  assert.equal(m.get('upstream_request_scheme'), 'http');
  assert.equal(m.get('upstream_request_uri'), '/v1?k=v');
  assert.equal(m.get('upstream_request_url'), `http://${be_}/v1?k=v`);
  assert.equal(m.get('upstream_service'), 'svc-x');
  assert.equal(m.get('header.X-Request-Id'), r.json().headers['x-request-id']);
  assert.equal(m.get('header.User-Agent'), 'ua/1');
});

pathTest('slow headers are closed after rt', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;rt=300ms' });
  const s = connect(p.port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write('GET / HTTP/1.1\r\nHost: a\r\n');
  s.resume();
  const t0 = Date.now();
  await once(s, 'close'); // the client never finishes its headers: only rt can close it
  assert.ok(Date.now() - t0 >= 250, `closed after ${Date.now() - t0} ms, before rt`);
});
