import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import type { ConsulClient } from '../../src/registry/consul/client.ts';
import { type HealthCheck, healthyServices, instanceKey } from '../../src/registry/consul/health-filter.ts';
import { HealthState } from '../../src/registry/consul/health-state.ts';
import { type CatalogRow, translateRows } from '../../src/registry/consul/route-lines.ts';
import { ServiceRoutes, sortDescending } from '../../src/registry/consul/service-routes.ts';
import { serviceRouteCommands } from '../../src/routes/index.ts';
import { check, row, serf } from './fake-consul.ts';

/** A stub client serving catalog rows from a map and counting reads. */
function stubClient(catalog: Map<string, unknown[]>, reads: string[]): ConsulClient {
  return {
    get: async (path: string) => {
      const name = decodeURIComponent(path.slice('/v1/catalog/service/'.length));
      reads.push(name);
      return { status: 200, headers: {}, body: JSON.stringify(catalog.get(name) ?? []) };
    },
  } as unknown as ConsulClient;
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('incremental sorted text equals a full sort after every round of random flaps', async () => {
  const rnd = lcg(42);
  const catalog = new Map<string, unknown[]>();
  const inst: { svc: string; id: string; node: string; tags: string[]; addr: string; port: number }[] = [];
  for (let s = 0; s < 30; s++) {
    const tags = [`urlprefix-s${s}.example.com/${'p'.repeat(s % 3)}`, ...(s % 4 === 0 ? ['green'] : [])];
    const rows: unknown[] = [];
    for (let i = 0; i < 1 + (s % 3); i++) {
      const x = { svc: `s${s}`, id: `s${s}-${i}`, node: `n${i}`, tags, addr: `10.0.${s}.${i}`, port: 8000 + i };
      inst.push(x);
      rows.push(row(x.node, x.id, x.svc, tags, x.addr, x.port));
    }
    catalog.set(`s${s}`, rows);
  }
  const reads: string[] = [];
  const sr = new ServiceRoutes(
    stubClient(catalog, reads),
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: 'dc1', monitors: 3 },
    memoryLogger(),
  );
  const up = new Set<string>();
  for (let round = 0; round < 300; round++) {
    // Flip a few instances (sometimes many, to cross the full-sort threshold).
    const flips = round % 50 === 0 ? 40 : 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < flips; k++) {
      const x = inst[Math.floor(rnd() * inst.length)];
      if (!x) continue;
      if (up.has(x.id)) up.delete(x.id);
      else up.add(x.id);
    }
    const checks = inst.map((x) =>
      check(x.node, x.id, x.svc, x.tags, up.has(x.id) ? 'passing' : 'critical'),
    ) as HealthCheck[];
    const r = await sr.update(checks);
    const want: string[] = [];
    for (const x of inst) {
      if (up.has(x.id)) {
        want.push(
          ...serviceRouteCommands({
            service: x.svc,
            addr: x.addr,
            port: x.port,
            tags: x.tags,
            tagPrefix: 'urlprefix-',
            env: { DC: 'dc1' },
          }).lines,
        );
      }
    }
    assert.equal(r.text, sortDescending(want).join('\n'), `round ${round}`);
  }
  assert.ok(reads.length > 0);
});

test('through HealthState, updates that visit only the changed services give the full text, failed catalog reads included', async () => {
  const rnd = lcg(7);
  const catalog = new Map<string, unknown[]>();
  const inst: { svc: string; id: string; node: string; tags: string[]; addr: string; port: number }[] = [];
  for (let s = 0; s < 40; s++) {
    const tags = [`urlprefix-s${s}.example.com/`];
    const rows: unknown[] = [];
    for (let i = 0; i < 1 + (s % 3); i++) {
      const x = { svc: `s${s}`, id: `s${s}-${i}`, node: 'n1', tags, addr: `10.1.${s}.${i}`, port: 8000 + i };
      inst.push(x);
      rows.push(row(x.node, x.id, x.svc, tags, x.addr, x.port));
    }
    catalog.set(`s${s}`, rows);
  }
  const reads: string[] = [];
  let failNext = false;
  const client = stubClient(catalog, reads);
  const flaky = {
    get: async (path: string) => {
      if (failNext) {
        failNext = false;
        throw new Error('catalog read failed');
      }
      return client.get(path);
    },
  } as unknown as ConsulClient;
  const opts = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const, dc: 'dc1', monitors: 2 };
  const sr = new ServiceRoutes(flaky, opts, memoryLogger());
  const hs = new HealthState(opts);
  const up = new Set(inst.filter(() => rnd() < 0.5).map((x) => x.id));
  let incremental = 0;
  for (let round = 0; round < 200; round++) {
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      const x = inst[Math.floor(rnd() * inst.length)] as (typeof inst)[number];
      if (up.has(x.id)) up.delete(x.id);
      else up.add(x.id);
    }
    failNext = rnd() < 0.1;
    const body = JSON.stringify([
      serf('n1'),
      ...inst.map((x) => check(x.node, x.id, x.svc, x.tags, up.has(x.id) ? 'passing' : 'critical')),
    ]);
    const read = hs.prepare(body);
    if (read.changed !== undefined) incremental++;
    let text: string;
    try {
      text = (await sr.update(read.healthy, undefined, true, read.changed)).text;
      read.commit();
    } catch {
      continue; // not committed: the next round's changes are counted from the same base
    }
    const full = new ServiceRoutes(stubClient(catalog, []), opts, memoryLogger());
    assert.equal(text, (await full.update(JSON.parse(body) as HealthCheck[])).text, `round ${round}`);
  }
  assert.ok(incremental > 150, `${incremental} incremental reads`);
  // the case the random rounds rarely hit: X goes down (applied without a read), Y comes up and its
  // read fails; then X comes back. Against the last committed answer only Y changed, but the failed
  // round had applied X's removal: the next update must not trust the changed set
  const x = inst[0] as (typeof inst)[number];
  const y = inst[3] as (typeof inst)[number];
  up.add(x.id);
  up.delete(y.id);
  const bodyOf = () =>
    JSON.stringify([
      serf('n1'),
      ...inst.map((i) => check(i.node, i.id, i.svc, i.tags, up.has(i.id) ? 'passing' : 'critical')),
    ]);
  failNext = false;
  const base = hs.prepare(bodyOf());
  await sr.update(base.healthy, undefined, true, base.changed);
  base.commit();
  up.delete(x.id);
  up.add(y.id);
  failNext = true;
  const failing = hs.prepare(bodyOf());
  await assert.rejects(sr.update(failing.healthy, undefined, true, failing.changed));
  up.add(x.id);
  const next = hs.prepare(bodyOf());
  assert.deepEqual([...(next.changed ?? [])], [y.svc]);
  const text = (await sr.update(next.healthy, undefined, true, next.changed)).text;
  const full = new ServiceRoutes(stubClient(catalog, []), opts, memoryLogger());
  assert.equal(text, (await full.update(JSON.parse(bodyOf()) as HealthCheck[])).text);
});

test('an unchanged health body is not a change and reads nothing', async () => {
  const catalog = new Map<string, unknown[]>([['a', [row('n1', 'a1', 'a', ['urlprefix-/a'], '10.0.0.1', 1)]]]);
  const reads: string[] = [];
  const sr = new ServiceRoutes(
    stubClient(catalog, reads),
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: '', monitors: 1 },
    memoryLogger(),
  );
  const body = [check('n1', 'a1', 'a', ['urlprefix-/a'], 'passing')] as HealthCheck[];
  assert.equal((await sr.update(body)).changed, true);
  assert.equal((await sr.update(body)).changed, false);
  assert.deepEqual(reads, ['a']);
  sr.reset();
  const r = await sr.update(body);
  assert.equal(r.changed, true);
  assert.deepEqual(reads, ['a', 'a'], 'reset forces a re-read');
});

test('a failed catalog read throws, and the next round publishes the complete text', async () => {
  const catalog = new Map<string, unknown[]>([
    ['a', [row('n1', 'a1', 'a', ['urlprefix-/a'], '10.0.0.1', 1)]],
    ['b', [row('n1', 'b1', 'b', ['urlprefix-/b'], '10.0.0.2', 2)]],
  ]);
  let fail = false;
  const client = {
    get: async (path: string) => {
      if (fail && path.endsWith('/b')) throw new Error('boom');
      return { status: 200, headers: {}, body: JSON.stringify(catalog.get(path.slice(20)) ?? []) };
    },
  } as unknown as ConsulClient;
  const sr = new ServiceRoutes(
    client,
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: '', monitors: 1 },
    memoryLogger(),
  );
  const a = check('n1', 'a1', 'a', ['urlprefix-/a'], 'passing');
  const b = check('n1', 'b1', 'b', ['urlprefix-/b'], 'passing');
  await sr.update([a] as HealthCheck[]);
  fail = true;
  await assert.rejects(sr.update([b] as HealthCheck[]), /boom/);
  fail = false;
  // b is now unhealthy again: only a's removal remains, and it must still be published.
  const r = await sr.update([] as HealthCheck[]);
  assert.equal(r.changed, true);
  assert.equal(r.text, '');
});

// The cache keeps per service its lines and which instance made each one, not the catalog rows.
test('ServiceRoutes without the rows: removals give what translating the rows again gives, extra fields and malformed rows included', async () => {
  const tags = ['urlprefix-a.example.com/', 'urlprefix-b.example.com/x weight=0.5', 'ok', 'bad"tag'];
  const ids = ['w-1', 'w-2', 'w-3', 'w-4', 'w-5'];
  const node = (id: string) => (id === 'w-2' ? 'n2' : 'n1');
  const extra = { TaggedAddresses: { lan: '10.0.0.1' }, ServiceMeta: { v: '1' }, ServiceProxy: { Expose: {} } };
  // rows in another order than the health answer, one duplicated, one malformed, odd but usable values
  const rows: unknown[] = [
    { ...row('n1', 'w-3', 'web', tags, '', 8003), ...extra },
    { ...row('n2', 'w-2', 'web', tags, '10.0.1.2', 8002), ...extra, ServicePort: '8002' },
    { ...row('n1', 'w-1', 'web', tags, '10.0.1.1', 8001), ...extra, ServiceName: undefined },
    { ...row('n1', 'w-4', 'web', tags, '10.0.1.4', 8004), ServiceTags: 'urlprefix-/w' },
    { ...row('n1', 'w-3', 'web', tags, '10.0.1.3', 8005), ...extra },
    { ...row('n1', 'w-5', 'web', ['urlprefix-c.example.com/'], '10.0.1.5', 8006), ...extra },
    7,
    null,
  ];
  const reads: string[] = [];
  const sr = new ServiceRoutes(
    stubClient(new Map([['web', rows]]), reads),
    { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one', dc: 'dc1', monitors: 1 },
    memoryLogger(),
  );
  const want = (up: readonly string[]) => {
    const members = new Set(up.map((id) => instanceKey(node(id), id)));
    return translateRows('web', rows as CatalogRow[], members, instanceKey, { tagPrefix: 'urlprefix-', dc: 'dc1' });
  };
  // every instance up, then they leave one by one (in health order), each time from the cache
  for (let n = ids.length; n >= 1; n--) {
    const up = ids.slice(ids.length - n);
    const health = up.map((id) =>
      check(node(id), id, 'web', id === 'w-5' ? ['urlprefix-c.example.com/'] : tags, 'passing'),
    );
    const r = await sr.update(health as HealthCheck[]);
    const w = want(up);
    assert.equal(r.text, sortDescending([...w.lines]).join('\n'), up.join(','));
    assert.deepEqual(r.warnings, w.warnings, up.join(','));
    assert.ok(w.warnings.some((x) => x.message.startsWith('malformed catalog row')) === up.includes('w-4'));
    assert.deepEqual(reads, ['web'], 'removals need no catalog read');
    // the same instances from a new filter pass (in the same order, then reversed): nothing
    // changes, nothing is read, and the next removal still drops the right lines
    for (const order of ['same', 'reversed']) {
      const copy = health.map((c) => ({ ...c, ServiceTags: [...c.ServiceTags] }));
      const pass = healthyServices((order === 'same' ? copy : copy.reverse()) as HealthCheck[], {
        tagPrefix: 'urlprefix-',
        status: ['passing'],
        checksRequired: 'one',
      });
      const again = await sr.update(pass);
      assert.equal(again.changed, false);
      assert.equal(again.text, r.text);
      assert.deepEqual(again.warnings, w.warnings, up.join(','));
    }
  }
  assert.deepEqual(reads, ['web']);
  // one coming back is read again
  const back = await sr.update(ids.map((id) => check(node(id), id, 'web', tags, 'passing')) as HealthCheck[]);
  assert.deepEqual(reads, ['web', 'web']);
  assert.equal(back.text, sortDescending([...want(ids).lines]).join('\n'));
});
