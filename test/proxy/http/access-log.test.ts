import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AccessRecord, compileAccessLog } from '../../../src/proxy/access-log.ts';

// fabio's own example: start 2016-01-01T00:00:00.012345678Z, duration 1.111111111s (TZ=UTC in scripts/test.sh? set below).
process.env.TZ = 'UTC';
const start = BigInt(Date.UTC(2016, 0, 1)) * 1_000_000n + 12_345_678n;
const rec: AccessRecord = {
  startNs: start,
  durationNs: 1_111_111_111n,
  remoteAddr: '2.2.2.2:666',
  method: 'GET',
  uri: '/?q=x',
  proto: 'HTTP/1.1',
  host: 'example.com',
  scheme: 'https',
  path: '/',
  query: 'q=x',
  status: 200,
  bodySize: 1234,
  upstreamAddr: '5.6.7.8:1234',
  upstreamScheme: 'http',
  upstreamUri: '/foo?q=x',
  service: 'svc-a',
  header: (n) =>
    ({ 'x-request-id': 'req-1', referer: 'ref', 'user-agent': 'ua', 'x-forwarded-for': '9.9.9.9, 2.2.2.2' })[
      n.toLowerCase()
    ] ?? '',
  clientXff: '9.9.9.9',
};

const fields: [string, string][] = [
  ['$header.X-Request-Id', 'req-1'],
  ['$header.x-request-id', 'req-1'],
  ['$header.Missing', ''],
  ['$header.X-Forwarded-For', '9.9.9.9'],
  ['$header.x-forwarded-for', '9.9.9.9'],
  ['$remote_addr', '2.2.2.2:666'],
  ['$remote_host', '2.2.2.2'],
  ['$remote_port', '666'],
  ['$request', 'GET /?q=x HTTP/1.1'],
  ['$request_args', 'q=x'],
  ['$request_host', 'example.com'],
  ['$request_method', 'GET'],
  ['$request_proto', 'HTTP/1.1'],
  ['$request_scheme', 'https'],
  ['$request_uri', '/?q=x'],
  ['$request_url', 'https://example.com/?q=x'],
  ['$response_body_size', '1234'],
  ['$response_status', '200'],
  ['$response_time_ms', '1.111'],
  ['$response_time_us', '1.111111'],
  ['$response_time_ns', '1.111111111'],
  ['$time_rfc3339', '2016-01-01T00:00:01Z'],
  ['$time_rfc3339_ms', '2016-01-01T00:00:01.123Z'],
  ['$time_rfc3339_us', '2016-01-01T00:00:01.123456Z'],
  ['$time_rfc3339_ns', '2016-01-01T00:00:01.123456789Z'],
  ['$time_unix_ms', '1451606401123'],
  ['$time_unix_us', '1451606401123456'],
  ['$time_unix_ns', '1451606401123456789'],
  ['$time_common', '01/Jan/2016:00:00:01 +0000'],
  ['$upstream_addr', '5.6.7.8:1234'],
  ['$upstream_host', '5.6.7.8'],
  ['$upstream_port', '1234'],
  ['$upstream_request_scheme', 'http'],
  ['$upstream_request_uri', '/foo?q=x'],
  ['$upstream_request_url', 'http://5.6.7.8:1234/foo?q=x'],
  ['$upstream_service', 'svc-a'],
  ['x $remote_host y', 'x 2.2.2.2 y'],
];
for (const [f, want] of fields)
  test(`access log field ${f}`, () => assert.equal(compileAccessLog(f)(rec), `${want}\n`));

test('common and combined formats', () => {
  assert.equal(
    compileAccessLog('common')(rec),
    '2.2.2.2 - - [01/Jan/2016:00:00:01 +0000] "GET /?q=x HTTP/1.1" 200 1234\n',
  );
  assert.equal(
    compileAccessLog('combined')(rec),
    '2.2.2.2 - - [01/Jan/2016:00:00:01 +0000] "GET /?q=x HTTP/1.1" 200 1234 "ref" "ua"\n',
  );
});

test('IPv6 remote host loses its brackets', () => {
  assert.equal(compileAccessLog('$remote_host $remote_port')({ ...rec, remoteAddr: '[::1]:80' }), '::1 80\n');
});

test('format errors carry fabio messages', () => {
  assert.throws(() => compileAccessLog(''), /^Error: empty log format$/);
  assert.throws(() => compileAccessLog('$nope'), { message: 'invalid field "$nope"' });
});
