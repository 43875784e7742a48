import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalog } from './helpers.ts';

/**
 * Response shapes against the JSON documented in Consul's HTTP API reference (health, catalog, kv)
 * and the responses recorded from real clusters (Consul 1.4.4 and 1.1.0, below): every documented
 * field must be present with the same JSON type.
 */

const recordedHealthService = {
  Node: {
    ID: '160a7a20-f177-d2f5-0765-e6d1a9a1a9a4',
    Node: 'consul-1',
    Address: '172.16.66.102',
    Datacenter: 'dc1',
    TaggedAddresses: { lan: '172.16.66.102', wan: '172.16.66.102' },
    Meta: { 'consul-network-segment': '' },
    CreateIndex: 7,
    ModifyIndex: 10,
  },
  Service: {
    ID: '_nomad-task-5uxc3b7hjzivbklslt4yj5bpsfagibrb',
    Service: 'httpbackend',
    Tags: [],
    Address: '172.16.66.102',
    Meta: null,
    Port: 23578,
    Weights: { Passing: 1, Warning: 1 },
    EnableTagOverride: false,
    Proxy: {},
    Connect: {},
    CreateIndex: 30727,
    ModifyIndex: 30727,
  },
  Checks: [
    {
      Node: 'consul-1',
      CheckID: 'serfHealth',
      Name: 'Serf Health Status',
      Status: 'passing',
      Notes: '',
      Output: 'Agent alive and reachable',
      ServiceID: '',
      ServiceName: '',
      ServiceTags: [],
      Definition: {},
      CreateIndex: 7,
      ModifyIndex: 7,
    },
  ],
};

const recordedCatalogService = {
  ID: 'd23b9495-4caa-9ef2-a1d5-7f20aa39fd15',
  Node: 'consul-1',
  Address: '192.168.0.129',
  Datacenter: 'dc1',
  TaggedAddresses: { lan: '192.168.0.129', wan: '192.168.0.129' },
  NodeMeta: { 'consul-network-segment': '' },
  ServiceID: 'consul',
  ServiceName: 'consul',
  ServiceTags: [],
  ServiceAddress: '',
  ServiceMeta: {},
  ServicePort: 8300,
  ServiceEnableTagOverride: false,
  CreateIndex: 5,
  ModifyIndex: 5,
};

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every field of `doc` exists in `got` with the same JSON type (recursively for objects). */
function sameShape(got: unknown, doc: unknown, where: string): void {
  assert.equal(kind(got), kind(doc), `${where}: type`);
  if (kind(doc) !== 'object') return;
  for (const [k, v] of Object.entries(doc as object)) {
    assert.ok(k in (got as object), `${where}.${k} missing`);
    // Maps whose keys are data (Meta, TaggedAddresses values) only need the type.
    if (['Meta', 'NodeMeta', 'ServiceMeta', 'Proxy', 'Connect', 'Definition'].includes(k)) continue;
    sameShape((got as Record<string, unknown>)[k], v, `${where}.${k}`);
  }
}

async function seeded(t: Parameters<typeof catalog>[0]) {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', {
    ID: 'web-1',
    Name: 'web',
    Tags: ['urlprefix-/web', 'primary'],
    Port: 8080,
    Address: '10.0.0.1',
    Check: { CheckID: 'c1', TTL: '1h', Status: 'passing' },
  });
  await c.put('/v1/agent/service/register', {
    ID: 'web-2',
    Name: 'web',
    Tags: ['urlprefix-/web', 'secondary'],
    Port: 8081,
    Check: { CheckID: 'c2', TTL: '1h', Status: 'warning' },
  });
  await c.put('/v1/agent/service/register', {
    ID: 'db-1',
    Name: 'db',
    Port: 5432,
    Check: { CheckID: 'c3', TTL: '1h' },
  });
  return c;
}

test('health/service matches the recorded Consul 1.4.4 response shape', async (t) => {
  const c = await seeded(t);
  const r = await c.get('/v1/health/service/web');
  assert.equal(r.json.length, 2);
  sameShape(r.json[0], recordedHealthService, 'health/service[0]');
  sameShape(r.json[0].Checks[1], recordedHealthService.Checks[0], 'health/service[0].Checks[1]');
  const first = r.json[0];
  assert.equal(first.Service.Address, '10.0.0.1');
  assert.equal(r.json[1].Service.Address, '', 'empty Service.Address: clients fall back to Node.Address');
  assert.equal(first.Node.Address, '127.0.0.1');
  assert.deepEqual(
    first.Checks.map((x: { CheckID: string }) => x.CheckID),
    ['serfHealth', 'c1'],
  );
});

test('health/service?passing keeps instances whose checks are all passing; ?tag filters', async (t) => {
  const c = await seeded(t);
  for (const q of ['?passing', '?passing=true', '?passing=1']) {
    assert.deepEqual(
      (await c.get(`/v1/health/service/web${q}`)).json.map((e: { Service: { ID: string } }) => e.Service.ID),
      ['web-1'],
      q,
    );
  }
  assert.equal((await c.get('/v1/health/service/web?passing=false')).json.length, 2);
  assert.deepEqual(
    (await c.get('/v1/health/service/web?tag=secondary')).json.map((e: { Service: { ID: string } }) => e.Service.ID),
    ['web-2'],
  );
  assert.deepEqual((await c.get('/v1/health/service/nope')).json, []);
});

test('catalog/service matches the recorded Consul 1.1.0 row shape and documented fields', async (t) => {
  const c = await seeded(t);
  const r = await c.get('/v1/catalog/service/web');
  assert.equal(r.json.length, 2);
  sameShape(r.json[0], recordedCatalogService, 'catalog/service[0]');
  for (const k of ['ServiceTaggedAddresses', 'ServiceProxy', 'ServiceConnect']) assert.ok(k in r.json[0], k);
  assert.equal(r.json[0].ServiceID, 'web-1');
  assert.equal(r.json[0].ServicePort, 8080);
  assert.deepEqual(r.json[0].ServiceTags, ['urlprefix-/web', 'primary']);
  assert.equal(r.json[1].ServiceAddress, '');
  assert.equal(r.json[1].Address, '127.0.0.1');
  assert.deepEqual((await c.get('/v1/catalog/service/web?tag=primary')).json.length, 1);
  assert.deepEqual((await c.get('/v1/catalog/service/nope')).json, []);
});

test('catalog/services maps each name to the union of its tags', async (t) => {
  const c = await seeded(t);
  assert.deepEqual((await c.get('/v1/catalog/services')).json, {
    db: [],
    web: ['primary', 'secondary', 'urlprefix-/web'],
  });
});

const states = [
  { state: 'any', ids: ['serfHealth', 'c1', 'c2', 'c3'] },
  { state: 'passing', ids: ['serfHealth', 'c1'] },
  { state: 'warning', ids: ['c2'] },
  { state: 'critical', ids: ['c3'] },
];
for (const s of states) {
  test(`health/state/${s.state}`, async (t) => {
    const c = await seeded(t);
    const r = await c.get(`/v1/health/state/${s.state}`);
    assert.deepEqual(
      r.json.map((x: { CheckID: string }) => x.CheckID),
      s.ids,
    );
    for (const x of r.json) {
      for (const k of [
        'Node',
        'CheckID',
        'Name',
        'Status',
        'Notes',
        'Output',
        'ServiceID',
        'ServiceName',
        'ServiceTags',
        'Type',
        'Definition',
        'CreateIndex',
        'ModifyIndex',
      ])
        assert.ok(k in x, k);
    }
  });
}

test('health/state: serfHealth is node-level and passing; service checks carry ServiceTags', async (t) => {
  const c = await seeded(t);
  const all = (await c.get('/v1/health/state/any')).json;
  const serf = all.find((x: { CheckID: string }) => x.CheckID === 'serfHealth');
  assert.deepEqual(
    { ServiceID: serf.ServiceID, Status: serf.Status, ServiceTags: serf.ServiceTags },
    { ServiceID: '', Status: 'passing', ServiceTags: [] },
  );
  const c1 = all.find((x: { CheckID: string }) => x.CheckID === 'c1');
  assert.deepEqual(c1.ServiceTags, ['urlprefix-/web', 'primary']);
  assert.equal(c1.Type, 'ttl');
});

test('setCheckStatusForTest flips serfHealth (node failure simulation)', async (t) => {
  const c = await seeded(t);
  assert.ok(c.setCheckStatusForTest('serfHealth', 'critical', 'Agent not live or unreachable'));
  assert.deepEqual((await c.get('/v1/health/service/web?passing')).json, []);
  assert.equal(c.setCheckStatusForTest('nope', 'critical'), false);
});

test('health/checks, health/node, catalog/nodes, catalog/node, catalog/datacenters, status/leader', async (t) => {
  const c = await seeded(t);
  assert.deepEqual(
    (await c.get('/v1/health/checks/web')).json.map((x: { CheckID: string }) => x.CheckID),
    ['c1', 'c2'],
  );
  assert.equal((await c.get('/v1/health/node/fabio-ts-dev')).json.length, 4);
  assert.deepEqual((await c.get('/v1/health/node/other')).json, []);
  assert.equal((await c.get('/v1/catalog/nodes')).json[0].Node, 'fabio-ts-dev');
  assert.deepEqual(Object.keys((await c.get('/v1/catalog/node/fabio-ts-dev')).json.Services), [
    'web-1',
    'web-2',
    'db-1',
  ]);
  assert.deepEqual((await c.get('/v1/catalog/datacenters')).json, ['dc1']);
  assert.equal((await c.get('/v1/status/leader')).json, '127.0.0.1:8300');
});

test('?pretty indents; ?stale and ?consistent are accepted', async (t) => {
  const c = await seeded(t);
  const r = await c.get('/v1/catalog/services?pretty');
  assert.match(r.text, /\n {4}"db"/);
  for (const q of ['stale', 'consistent']) {
    const x = await c.get(`/v1/health/state/any?${q}`);
    assert.equal(x.status, 200);
    assert.equal(x.headers.get('x-consul-effective-consistency'), q);
  }
});

test('register and check IDs with odd characters survive URL encoding', async (t) => {
  const c = await catalog(t);
  await c.put('/v1/agent/service/register', { ID: 'a b/c', Name: 'odd svc', Check: { CheckID: 'chk/1', TTL: '1h' } });
  assert.equal((await c.put('/v1/agent/check/pass/chk%2F1')).status, 200);
  assert.equal((await c.get('/v1/health/service/odd%20svc')).json[0].Checks[1].Status, 'passing');
  assert.equal((await c.put('/v1/agent/service/deregister/a%20b%2Fc')).status, 200);
});

test('Weights and TaggedAddresses are stored and shown in agent, health and catalog views', async (t) => {
  const c = await catalog(t);
  const r = await c.put('/v1/agent/service/register', {
    Name: 'web',
    Port: 80,
    Weights: { Passing: 10, Warning: 1 },
    TaggedAddresses: { lan: { Address: '10.0.0.1', Port: 80 }, wan: { address: '1.2.3.4', port: 8080 } },
  });
  assert.equal(r.status, 200, r.text);
  const tagged = { lan: { Address: '10.0.0.1', Port: 80 }, wan: { Address: '1.2.3.4', Port: 8080 } };
  const agent = (await c.get('/v1/agent/services')).json.web;
  assert.deepEqual(agent.Weights, { Passing: 10, Warning: 1 });
  assert.deepEqual(agent.TaggedAddresses, tagged);
  assert.deepEqual((await c.get('/v1/health/service/web')).json[0].Service.TaggedAddresses, tagged);
  const row = (await c.get('/v1/catalog/service/web')).json[0];
  assert.deepEqual(row.ServiceTaggedAddresses, tagged);
  assert.deepEqual(row.ServiceWeights, { Passing: 10, Warning: 1 });
  assert.equal((await c.put('/v1/agent/service/register', { Name: 'x', Port: 70000 })).status, 400);
  assert.equal((await c.put('/v1/agent/service/register', { Name: 'x', TaggedAddresses: { lan: 'a' } })).status, 400);
});

test('health/state/any reflects every change to a check (memoised JSON never goes stale)', async (t) => {
  const c = await seeded(t);
  const find = async () =>
    (await c.get('/v1/health/state/any')).json.find((x: { CheckID: string }) => x.CheckID === 'c1');
  const a = await find();
  await c.put('/v1/agent/check/fail/c1?note=boom');
  const b = await find();
  assert.deepEqual([b.Status, b.Output], ['critical', 'boom']);
  assert.ok(b.ModifyIndex > a.ModifyIndex);
  await c.put('/v1/agent/service/register', {
    ID: 'web-1',
    Name: 'web',
    Tags: ['retagged'],
    Port: 8080,
    Check: { CheckID: 'c1', TTL: '1h' },
  });
  assert.deepEqual((await find()).ServiceTags, ['retagged']);
  c.setIndexForTest(2);
  const d = await find();
  assert.ok(d.ModifyIndex <= 2 && d.CreateIndex <= 2, JSON.stringify(d));
});
