// A fabio-ts process with a proto=grpc listener, routes from Consul tags in the embedded catalog:
// `urlprefix-/test.echo.Echo proto=grpc` routes the service's calls, metrics count them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startDevFabio } from '../../e2e/fixtures.ts';
import { freePort, until } from '../../helpers/proc.ts';
import { client, startBackend, unary } from './harness.ts';

test('fabio-ts process: a gRPC service registered with urlprefix-/pkg.Svc proto=grpc is reachable', async (t) => {
  const [grpcPort, promPort] = [await freePort(), await freePort()];
  const f = await startDevFabio(
    [],
    ({ http }) => `127.0.0.1:${http},127.0.0.1:${grpcPort};proto=grpc,127.0.0.1:${promPort};proto=prometheus`,
  );
  t.after(async () => assert.equal(await f.stop(), 0));
  const b = await startBackend(undefined, 'svc');
  t.after(() => b.close());
  await f.register({
    Name: 'echo',
    Port: b.port,
    Address: '127.0.0.1',
    Tags: ['urlprefix-/test.echo.Echo proto=grpc'],
    Check: { TCP: `127.0.0.1:${b.port}`, Interval: '1s' },
  });
  await until(async () => (await f.routesRaw()).includes(`grpc://127.0.0.1:${b.port}`), 15000);

  const c = client(`127.0.0.1:${grpcPort}`);
  t.after(() => c.close());
  const r = await unary(c, { text: 'through-fabio' });
  assert.equal(r.res?.text, 'svc:through-fabio', r.err?.message);
  const miss = await new Promise<grpc.ServiceError | null>((resolve) =>
    c.makeUnaryRequest(
      '/other.Svc/Call',
      (x: Buffer) => x,
      (x: Buffer) => x,
      Buffer.alloc(0),
      (e: grpc.ServiceError | null) => resolve(e),
    ),
  );
  assert.equal(miss?.code, grpc.status.NOT_FOUND);
  assert.equal(miss?.details, 'no route found');

  // the proxy records an RPC when its server stream closes, which may follow the client's status
  const want = [
    /_grpc_conn(_total)? [1-9]/,
    /_grpc_noroute(_total)? 1\b/,
    /_grep_status_count\{code="OK"\} 1\b/,
    /_grpc_status_count\{code="NotFound"\} 1\b/,
    /_grpc_requests_count 2\b/,
    new RegExp(`_route_count\\{[^}]*target="grpc://127\\.0\\.0\\.1:${b.port}"[^}]*\\} 1\\b`),
  ];
  let metrics = '';
  await until(async () => {
    metrics = await (await fetch(`http://127.0.0.1:${promPort}/metrics`)).text();
    return want.every((re) => re.test(metrics));
  }, 10000).catch(() => {});
  for (const re of want) assert.match(metrics, re);
});
