import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateAccessLogFormat } from '../../../src/config/access-log-format.ts';
import { compileAccessLog } from '../../../src/proxy/access-log.ts';
import { freePort as deadPort } from '../../helpers/proc.ts';
import { backend, get, pathTest, proxy } from '../http/harness.ts';

/** `$upstream_attempts` in log.access.format: how many targets a request was sent to (issue #15). */

pathTest('$upstream_attempts: 2 for a request retried on another target, 1 otherwise', async (t) => {
  const a = await backend(t, (_req, res) => res.end('a'));
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const p = await proxy(t, `route add svc / ${a.url}\nroute add svc / ${dead}`, {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
    'log.access.format': '$upstream_attempts $response_status $upstream_addr',
  });
  for (let i = 0; i < 4; i++) assert.equal((await get(p.port, '/')).status, 200);
  const host = a.url.replace(/^http:\/\/|\/$/g, '');
  assert.deepEqual([...p.access].sort(), [`1 200 ${host}\n`, `1 200 ${host}\n`, `2 200 ${host}\n`, `2 200 ${host}\n`]);
});

pathTest('$upstream_attempts: retries=0 on the route, one attempt and the 502', async (t) => {
  const a = await backend(t, (_req, res) => res.end('a'));
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const p = await proxy(t, `route add svc / ${dead} opts "retries=0"\nroute add svc / ${a.url} opts "retries=0"`, {
    'proxy.strategy': 'rr',
    'proxy.outlier.failures': 0,
    'log.access.format': '$upstream_attempts $response_status',
  });
  const statuses = [];
  for (let i = 0; i < 2; i++) statuses.push((await get(p.port, '/')).status);
  assert.deepEqual(statuses.sort(), [200, 502]);
  assert.deepEqual([...p.access].sort(), ['1 200\n', '1 502\n']);
});

test('$upstream_attempts is a known field; a record without attempts prints 1', () => {
  validateAccessLogFormat('$upstream_attempts');
  const f = compileAccessLog('$upstream_attempts');
  const rec = {
    startNs: 0n,
    durationNs: 0n,
    remoteAddr: '',
    method: 'GET',
    uri: '/',
    proto: 'HTTP/1.1',
    host: '',
    scheme: 'http',
    path: '/',
    query: '',
    status: 200,
    bodySize: 0,
    upstreamAddr: '',
    upstreamScheme: 'http',
    upstreamUri: '/',
    service: 's',
    header: () => '',
    clientXff: '',
  };
  assert.equal(f(rec), '1\n');
  assert.equal(f({ ...rec, attempts: 3 }), '3\n');
});
