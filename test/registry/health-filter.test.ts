import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HealthCheck, healthyServices } from '../../src/registry/consul/health-filter.ts';
import { check, serf } from './fake-consul.ts';

const T = ['urlprefix-/a'];
const opts = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const };

/** Healthy instances as sorted `service:node/id` strings. */
function healthy(checks: unknown[], o: Partial<typeof opts> | { checksRequired: 'all' } = {}): string[] {
  const out: string[] = [];
  for (const [name, s] of healthyServices(checks as HealthCheck[], { ...opts, ...o })) {
    for (const i of s.instances) out.push(`${name}:${i.node}/${i.id}`);
  }
  return out.sort();
}

const cases: { name: string; checks: unknown[]; o?: Partial<typeof opts>; want: string[] }[] = [
  { name: 'one passing check', checks: [serf('n1'), check('n1', 'a1', 'a', T, 'passing')], want: ['a:n1/a1'] },
  { name: 'untagged service is ignored', checks: [check('n1', 'b1', 'b', ['web'], 'passing')], want: [] },
  {
    name: 'tag prefix after trim',
    checks: [check('n1', 'a1', 'a', ['  urlprefix-/x '], 'passing')],
    want: ['a:n1/a1'],
  },
  { name: 'critical only', checks: [check('n1', 'a1', 'a', T, 'critical')], want: [] },
  {
    name: 'one of two passing (one)',
    checks: [check('n1', 'a1', 'a', T, 'passing'), check('n1', 'a1', 'a', T, 'critical', 'c2')],
    want: ['a:n1/a1'],
  },
  {
    name: 'one of two passing (all)',
    checks: [check('n1', 'a1', 'a', T, 'passing'), check('n1', 'a1', 'a', T, 'critical', 'c2')],
    o: { checksRequired: 'all' } as never,
    want: [],
  },
  {
    name: 'two of two passing (all)',
    checks: [check('n1', 'a1', 'a', T, 'passing'), check('n1', 'a1', 'a', T, 'passing', 'c2')],
    o: { checksRequired: 'all' } as never,
    want: ['a:n1/a1'],
  },
  { name: 'warning not accepted by default', checks: [check('n1', 'a1', 'a', T, 'warning')], want: [] },
  {
    name: 'warning accepted with status passing,warning',
    checks: [check('n1', 'a1', 'a', T, 'warning')],
    o: { status: ['passing', 'warning'] },
    want: ['a:n1/a1'],
  },
  {
    name: 'serfHealth critical excludes the node',
    checks: [serf('n1', 'critical'), check('n1', 'a1', 'a', T, 'passing')],
    want: [],
  },
  {
    name: 'serfHealth critical on another node',
    checks: [serf('n2', 'critical'), check('n1', 'a1', 'a', T, 'passing')],
    want: ['a:n1/a1'],
  },
  {
    name: 'node maintenance excludes the node',
    checks: [{ ...serf('n1'), CheckID: '_node_maintenance', Status: 'critical' }, check('n1', 'a1', 'a', T, 'passing')],
    want: [],
  },
  {
    name: 'node maintenance in any status excludes',
    checks: [{ ...serf('n1'), CheckID: '_node_maintenance', Status: 'passing' }, check('n1', 'a1', 'a', T, 'passing')],
    want: [],
  },
  {
    name: 'service maintenance excludes that instance only',
    checks: [
      check('n1', 'a1', 'a', T, 'passing'),
      check('n1', 'a1', 'a', T, 'critical', '_service_maintenance:a1'),
      check('n1', 'a2', 'a', T, 'passing'),
    ],
    want: ['a:n1/a2'],
  },
  {
    name: 'service maintenance of an untagged service check row still excludes',
    checks: [check('n1', 'a1', 'a', T, 'passing'), check('n1', 'a1', '', [], 'critical', '_service_maintenance:a1')],
    want: [],
  },
  {
    name: 'node-level non-serf check ignored',
    checks: [check('n1', '', '', [], 'critical', 'disk'), check('n1', 'a1', 'a', T, 'passing')],
    want: ['a:n1/a1'],
  },
  {
    name: 'same service id on two nodes',
    checks: [check('n1', 'a1', 'a', T, 'passing'), check('n2', 'a1', 'a', T, 'critical')],
    want: ['a:n1/a1'],
  },
  {
    name: 'custom tag prefix',
    checks: [check('n1', 'a1', 'a', ['p-/x'], 'passing')],
    o: { tagPrefix: 'p-' },
    want: ['a:n1/a1'],
  },
  { name: 'garbage rows do not throw', checks: [null, 1, {}, check('n1', 'a1', 'a', T, 'passing')], want: ['a:n1/a1'] },
];

for (const c of cases) {
  test(`health filter: ${c.name}`, () => {
    assert.deepEqual(healthy(c.checks, c.o), c.want);
  });
}

test('signature changes with the instance set and with tags, not with check order', () => {
  const a = [check('n1', 'a1', 'a', T, 'passing'), check('n1', 'a2', 'a', T, 'passing')];
  const s1 = healthyServices(a as HealthCheck[], opts).get('a')?.signature;
  const s2 = healthyServices([...a].reverse() as HealthCheck[], opts).get('a')?.signature;
  const s3 = healthyServices([a[0]] as HealthCheck[], opts).get('a')?.signature;
  const s4 = healthyServices([check('n1', 'a1', 'a', [...T, 'v2'], 'passing'), a[1]] as HealthCheck[], opts).get(
    'a',
  )?.signature;
  assert.equal(s1, s2);
  assert.notEqual(s1, s3);
  assert.notEqual(s1, s4);
});
