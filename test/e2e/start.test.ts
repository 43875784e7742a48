// Acceptance of the foundation and registry issues, as a new user meets them: `npm start` (-dev)
// serves /health and the demo route; a service registered in the embedded catalog with an HTTP
// check gets a route once the check passes and loses it when the check fails or it is deregistered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../helpers/proc.ts';
import { backend, startDevFabio } from './fixtures.ts';

test('-dev: /health, the demo route, and a service registered by curl follows its health check', async (t) => {
  const f = await startDevFabio();
  t.after(async () => assert.equal(await f.stop(), 0));

  const health = await fetch(`${f.ui}/health`);
  assert.equal(health.status, 200);
  assert.equal(await health.text(), 'OK\n');

  const raw = await until(async () => {
    const r = await f.routesRaw();
    return r.includes('route add demo /demo ') ? r : undefined;
  }, 5000);
  assert.match(raw, /^route add demo \/demo http:\/\/127\.0\.0\.1:\d+\/ weight 1\.0000$/m);
  const demo = await fetch(`http://127.0.0.1:${f.http}/demo`);
  assert.equal(demo.status, 200);
  assert.match(await demo.text(), /hello from demo/);

  // The curl, with a real server and a real HTTP check.
  let web = await backend('web');
  const port = web.port;
  await f.register({
    Name: 'web',
    Port: port,
    Tags: ['urlprefix-/web'],
    Check: { HTTP: `http://127.0.0.1:${port}/`, Interval: '1s' },
  });
  await until(async () => (await f.routesRaw()).includes(`route add web /web http://127.0.0.1:${port}/`), 5000);
  const r = await fetch(`http://127.0.0.1:${f.http}/web`);
  assert.equal(await r.text(), 'web');

  // Stopping the server fails the check and removes the route.
  await web.close();
  await until(async () => !(await f.routesRaw()).includes('route add web '), 8000);
  const gone = await fetch(`http://127.0.0.1:${f.http}/web`);
  assert.equal(gone.status, 404);

  // Back up: the route returns; deregistering removes it.
  web = await backend('web', undefined);
  if (web.port !== port) {
    // The old port was taken by someone else; re-register on the new one.
    await f.register({
      Name: 'web',
      Port: web.port,
      Tags: ['urlprefix-/web'],
      Check: { HTTP: `http://127.0.0.1:${web.port}/`, Interval: '1s' },
    });
  }
  t.after(() => web.close());
  await until(async () => (await f.routesRaw()).includes('route add web /web '), 8000);
  await f.deregister('web');
  await until(async () => !(await f.routesRaw()).includes('route add web '), 5000);
});

test('unknown flag exits 1 naming it; -v prints the version', async () => {
  const { startFabio } = await import('../helpers/proc.ts');
  const bad = startFabio(['-no.such.flag=1']);
  assert.equal(await bad.exited, 1);
  assert.match(bad.stderr.join('\n'), /no\.such\.flag/);
  const v = startFabio(['-v']);
  assert.equal(await v.exited, 0);
  assert.match(v.stdout.join('\n'), /^\d+\.\d+\.\d+\+([0-9a-f]{12}|unknown) node/);
});
