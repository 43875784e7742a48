import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalog } from './helpers.ts';

test('agent/self: Config and Member as Consul documents them', async (t) => {
  const c = await catalog(t, { datacenter: 'dc9', nodeName: 'n1' });
  const r = await c.get('/v1/agent/self');
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/json');
  assert.equal(r.headers.get('x-consul-knownleader'), 'true');
  assert.equal(r.headers.get('x-consul-lastcontact'), '0');
  for (const k of ['Datacenter', 'NodeName', 'NodeID', 'Server', 'Revision', 'Version'])
    assert.ok(k in r.json.Config, k);
  assert.equal(r.json.Config.Datacenter, 'dc9');
  assert.equal(r.json.Config.NodeName, 'n1');
  assert.match(r.json.Config.NodeID, /^[0-9a-f-]{36}$/);
  for (const k of ['Name', 'Addr', 'Port', 'Tags', 'Status']) assert.ok(k in r.json.Member, k);
  assert.equal(r.json.Member.Tags.dc, 'dc9');
});

const registrations = [
  {
    name: 'CamelCase with Check',
    body: {
      ID: 'web-1',
      Name: 'web',
      Tags: ['urlprefix-/web'],
      Address: '10.0.0.5',
      Port: 8080,
      Meta: { Version: '1' },
      Check: { TTL: '10s', CheckID: 'web-ttl' },
    },
    id: 'web-1',
    checks: ['web-ttl'],
  },
  {
    name: 'snake_case with checks',
    body: {
      id: 'web-2',
      name: 'web',
      tags: ['a'],
      address: '10.0.0.6',
      port: 8081,
      enable_tag_override: true,
      checks: [{ ttl: '10s', check_id: 'c1', status: 'passing' }, { ttl: '10s' }],
    },
    id: 'web-2',
    checks: ['c1', 'service:web-2:2'],
  },
  { name: 'ID defaults to Name', body: { Name: 'api', Port: 1 }, id: 'api', checks: [] },
  {
    name: 'single check without CheckID',
    body: { Name: 'db', Port: 5432, Check: { TCP: '127.0.0.1:1', Interval: '1h' } },
    id: 'db',
    checks: ['service:db'],
  },
  { name: 'one entry in Checks', body: { Name: 'q', Checks: [{ TTL: '1m' }] }, id: 'q', checks: ['service:q'] },
  { name: 'empty Check object is ignored', body: { Name: 'e', Check: {} }, id: 'e', checks: [] },
];

for (const reg of registrations) {
  test(`agent/service/register: ${reg.name}`, async (t) => {
    const c = await catalog(t);
    const r = await c.put('/v1/agent/service/register', reg.body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '');
    const services = (await c.get('/v1/agent/services')).json;
    assert.deepEqual(Object.keys(services), [reg.id]);
    const s = services[reg.id];
    for (const k of ['ID', 'Service', 'Tags', 'Address', 'Port', 'Meta', 'Weights', 'EnableTagOverride'])
      assert.ok(k in s, k);
    const checks = (await c.get('/v1/agent/checks')).json;
    assert.deepEqual(
      Object.keys(checks).filter((k) => k !== 'serfHealth'),
      reg.checks,
    );
    for (const id of reg.checks) assert.equal(checks[id].ServiceID, reg.id);
  });
}

test('agent/service/register: snake_case fields land in the CamelCase output', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', registrations[1]?.body);
  const s = (await c.get('/v1/agent/services')).json['web-2'];
  assert.equal(s.Service, 'web');
  assert.equal(s.Port, 8081);
  assert.equal(s.Address, '10.0.0.6');
  assert.equal(s.EnableTagOverride, true);
  assert.deepEqual(s.Weights, { Passing: 1, Warning: 1 });
  const checks = (await c.get('/v1/agent/checks')).json;
  assert.equal(checks.c1.Status, 'passing', 'initial Status honoured');
  assert.equal(checks['service:web-2:2'].Status, 'critical', "Consul's default initial status");
  assert.equal(checks['service:web-2:2'].Name, "Service 'web' check");
});

const bad = [
  { name: 'missing Name', body: { Port: 1 }, status: 400, msg: /Missing service name/ },
  {
    name: 'HTTP check without Interval',
    body: { Name: 'x', Check: { HTTP: 'http://a/' } },
    status: 400,
    msg: /Interval/,
  },
  { name: 'bad Status', body: { Name: 'x', Check: { TTL: '1s', Status: 'ok' } }, status: 400, msg: /status/ },
  { name: 'bad duration', body: { Name: 'x', Check: { TTL: '10 seconds' } }, status: 400, msg: /invalid duration/ },
  { name: 'Tags not strings', body: { Name: 'x', Tags: [1] }, status: 400, msg: /Tags/ },
  { name: 'not JSON', body: '{', status: 400, msg: /decode/ },
  { name: 'check without a type', body: { Name: 'x', Check: { Name: 'c' } }, status: 400, msg: /Invalid check/ },
];
for (const b of bad) {
  test(`agent/service/register rejects ${b.name}`, async (t) => {
    const c = await catalog(t);
    const r = await c.put('/v1/agent/service/register', b.body);
    assert.equal(r.status, b.status);
    assert.match(r.text, b.msg);
    assert.deepEqual((await c.get('/v1/agent/services')).json, {});
  });
}

test('re-registering keeps the check status unless Status is given; replace-existing-checks drops old checks', async (t) => {
  const c = await catalog(t);
  const body = {
    ID: 'w',
    Name: 'web',
    Checks: [
      { TTL: '1h', CheckID: 'a' },
      { TTL: '1h', CheckID: 'b' },
    ],
  };
  await c.put('/v1/agent/service/register', body);
  await c.put('/v1/agent/check/pass/a');
  await c.put('/v1/agent/service/register', { ...body, Tags: ['new'] });
  let checks = (await c.get('/v1/agent/checks')).json;
  assert.equal(checks.a.Status, 'passing');
  assert.deepEqual(checks.a.ServiceTags, ['new']);
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web', Checks: [{ TTL: '1h', CheckID: 'a' }] });
  checks = (await c.get('/v1/agent/checks')).json;
  assert.ok('b' in checks, 'without replace-existing-checks the old check stays');
  await c.put('/v1/agent/service/register?replace-existing-checks', {
    ID: 'w',
    Name: 'web',
    Checks: [{ TTL: '1h', CheckID: 'a' }],
  });
  checks = (await c.get('/v1/agent/checks')).json;
  assert.ok(!('b' in checks));
});

test('agent/service/deregister removes the service and its checks; unknown ID is 404', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'w1', Name: 'web', Check: { TTL: '1h' } });
  assert.equal((await c.put('/v1/agent/service/deregister/w1')).status, 200);
  assert.deepEqual((await c.get('/v1/agent/services')).json, {});
  assert.deepEqual(Object.keys((await c.get('/v1/agent/checks')).json), ['serfHealth']);
  const r = await c.put('/v1/agent/service/deregister/w1');
  assert.equal(r.status, 404);
  assert.match(r.text, /Unknown service ID "w1"/);
});

test('agent/service/<id> returns one service', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'w1', Name: 'web', Port: 3 });
  assert.equal((await c.get('/v1/agent/service/w1')).json.Port, 3);
  assert.equal((await c.get('/v1/agent/service/nope')).status, 404);
});

const ttlUpdates = [
  { path: '/v1/agent/check/pass/t?note=fine', status: 'passing', output: 'fine' },
  { path: '/v1/agent/check/warn/t?note=hmm', status: 'warning', output: 'hmm' },
  { path: '/v1/agent/check/fail/t', status: 'critical', output: '' },
  { path: '/v1/agent/check/update/t', body: { Status: 'passing', Output: 'ok' }, status: 'passing', output: 'ok' },
  {
    path: '/v1/agent/check/update/t',
    body: { status: 'warning', output: 'snake' },
    status: 'warning',
    output: 'snake',
  },
];
for (const u of ttlUpdates) {
  test(`TTL update ${u.path} ${u.body ? JSON.stringify(u.body) : ''}`, async (t) => {
    const c = await catalog(t);
    await c.put('/v1/agent/service/register', {
      ID: 'w',
      Name: 'web',
      Check: { CheckID: 't', TTL: '1h', Status: 'warning', Notes: 'n' },
    });
    const before = (await c.get('/v1/health/state/any')).index;
    assert.equal((await c.put(u.path, u.body)).status, 200);
    const checks = (await c.get('/v1/agent/checks')).json;
    assert.equal(checks.t.Status, u.status);
    assert.equal(checks.t.Output, u.output);
    assert.equal(checks.t.Notes, 'n');
    assert.ok((await c.get('/v1/health/state/any')).index > before);
  });
}

test('check update errors: unknown check 404, non-TTL check 500, bad status 400', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Check: { CheckID: 'tcp', TCP: '127.0.0.1:1', Interval: '1h' },
  });
  assert.equal((await c.put('/v1/agent/check/pass/nope')).status, 404);
  const r = await c.put('/v1/agent/check/pass/tcp');
  assert.equal(r.status, 500);
  assert.match(r.text, /does not have associated TTL/);
  assert.equal((await c.put('/v1/agent/check/update/tcp', { Status: 'green' })).status, 400);
});

test('an identical TTL update does not bump the index (no spurious wake-ups)', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web', Check: { CheckID: 't', TTL: '1h' } });
  await c.put('/v1/agent/check/pass/t');
  const i1 = (await c.get('/v1/health/state/any')).index;
  await c.put('/v1/agent/check/pass/t');
  assert.equal((await c.get('/v1/health/state/any')).index, i1);
});

test('service maintenance adds and removes _service_maintenance:<id>', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', {
    ID: 'w',
    Name: 'web',
    Tags: ['urlprefix-/'],
    Check: { TTL: '1h', Status: 'passing' },
  });
  assert.equal((await c.put('/v1/agent/service/maintenance/w?enable=true&reason=deploy')).status, 200);
  let m = (await c.get('/v1/health/state/critical')).json;
  assert.equal(m.length, 1);
  assert.deepEqual(
    {
      CheckID: m[0].CheckID,
      Status: m[0].Status,
      Notes: m[0].Notes,
      ServiceID: m[0].ServiceID,
      ServiceName: m[0].ServiceName,
      Name: m[0].Name,
    },
    {
      CheckID: '_service_maintenance:w',
      Status: 'critical',
      Notes: 'deploy',
      ServiceID: 'w',
      ServiceName: 'web',
      Name: 'Service Maintenance Mode',
    },
  );
  assert.deepEqual(m[0].ServiceTags, ['urlprefix-/']);
  assert.deepEqual((await c.get('/v1/health/service/web?passing')).json, []);
  await c.put('/v1/agent/service/maintenance/w?enable=false');
  m = (await c.get('/v1/health/state/critical')).json;
  assert.equal(m.length, 0);
  assert.equal((await c.get('/v1/health/service/web?passing')).json.length, 1);
  assert.equal((await c.put('/v1/agent/service/maintenance/w')).status, 400);
  assert.equal((await c.put('/v1/agent/service/maintenance/w?enable=maybe')).status, 400);
  assert.equal((await c.put('/v1/agent/service/maintenance/nope?enable=true')).status, 404);
});

test('node maintenance adds _node_maintenance (node-level, critical) and wakes every service watcher', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web', Check: { TTL: '1h', Status: 'passing' } });
  const before = (await c.get('/v1/health/service/web')).index;
  await c.put('/v1/agent/maintenance?enable=true');
  const m = (await c.get('/v1/health/state/critical')).json;
  assert.equal(m[0].CheckID, '_node_maintenance');
  assert.equal(m[0].ServiceID, '');
  assert.match(m[0].Notes, /Maintenance mode is enabled for this node/);
  const hs = await c.get('/v1/health/service/web');
  assert.ok(hs.index > before);
  assert.ok(hs.json[0].Checks.some((x: { CheckID: string }) => x.CheckID === '_node_maintenance'));
  await c.put('/v1/agent/maintenance?enable=false');
  assert.equal((await c.get('/v1/health/state/critical')).json.length, 0);
});

test('agent/check/register and deregister', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'w', Name: 'web' });
  assert.equal(
    (await c.put('/v1/agent/check/register', { Name: 'extra', ID: 'x1', ServiceID: 'w', TTL: '1h', Status: 'passing' }))
      .status,
    200,
  );
  const checks = (await c.get('/v1/agent/checks')).json;
  assert.equal(checks.x1.ServiceName, 'web');
  assert.equal((await c.put('/v1/agent/check/register', { Name: 'bad', ServiceID: 'nope', TTL: '1h' })).status, 400);
  assert.equal((await c.put('/v1/agent/check/deregister/x1')).status, 200);
  assert.equal((await c.put('/v1/agent/check/deregister/x1')).status, 404);
});

const unknown = [
  { method: 'GET', path: '/v1/agent/service/register', status: 405 },
  { method: 'PUT', path: '/v1/agent/self', status: 405 },
  { method: 'GET', path: '/v1/agent/nothing', status: 404 },
  { method: 'GET', path: '/v1/acl/tokens', status: 404 },
  { method: 'GET', path: '/', status: 404 },
  { method: 'POST', path: '/v1/health/state/any', status: 405 },
  { method: 'GET', path: '/v1/health/bogus', status: 404 },
  { method: 'POST', path: '/v1/kv/x', status: 405 },
  { method: 'GET', path: '/v1/health/state/sick', status: 400 },
];
for (const u of unknown) {
  test(`unknown endpoint ${u.method} ${u.path} -> ${u.status}`, async (t) => {
    const c = await catalog(t);
    const r = await fetch(c.url + u.path, { method: u.method });
    await r.text();
    assert.equal(r.status, u.status);
    assert.ok(r.headers.get('x-consul-index'));
  });
}

test('ACL token headers and ?token are accepted and ignored', async (t) => {
  const c = await catalog(t);
  const r = await fetch(`${c.url}/v1/agent/self?token=abc`, {
    headers: { 'X-Consul-Token': 'secret', Authorization: 'Bearer x' },
  });
  await r.text();
  assert.equal(r.status, 200);
});

test('an identical re-registration is not a write; a changed one is', async (t) => {
  const c = await catalog(t);
  const body = {
    ID: 'w',
    Name: 'web',
    Tags: ['urlprefix-/'],
    Port: 1,
    Check: { CheckID: 't', TTL: '1h', Status: 'passing' },
  };
  await c.put('/v1/agent/service/register', body);
  const i1 = (await c.get('/v1/health/service/web')).index;
  await c.put('/v1/agent/service/register', body);
  assert.equal((await c.get('/v1/health/service/web')).index, i1);
  await c.put('/v1/agent/check/fail/t');
  const i2 = (await c.get('/v1/health/service/web')).index;
  // Same body, but its Status differs from the current one: it must apply.
  await c.put('/v1/agent/service/register', body);
  const r = await c.get('/v1/health/service/web');
  assert.ok(r.index > i2);
  assert.equal(r.json[0].Checks[1].Status, 'passing');
  await c.put('/v1/agent/service/register', { ...body, Port: 2 });
  assert.ok((await c.get('/v1/health/service/web')).index > r.index);
});
