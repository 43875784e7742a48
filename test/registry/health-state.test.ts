import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkProblem,
  type HealthCheck,
  type HealthyService,
  healthyServices,
} from '../../src/registry/consul/health-filter.ts';
import { HealthState } from '../../src/registry/consul/health-state.ts';
import { check, serf } from './fake-consul.ts';

/**
 * HealthState must always give exactly healthyServices(JSON.parse(body)), whatever changed between
 * two bodies, while parsing only the checks that changed.
 */

const OPTS = { tagPrefix: 'urlprefix-', status: ['passing'], checksRequired: 'one' as const };
type Check = ReturnType<typeof check>;

const view = (m: ReadonlyMap<string, HealthyService>) =>
  [...m]
    .map(
      ([name, h]) =>
        `${name} ${h.signature} ${h.instances
          .map((i) => `${i.node}/${i.id}/${i.tags.join(',')}`)
          .sort()
          .join(' ')}`,
    )
    .sort();

function cluster(): Check[] {
  const out: Check[] = [serf('n1'), serf('n2')];
  for (let s = 0; s < 8; s++) {
    const tags = s % 3 === 2 ? ['plain'] : [`urlprefix-/s${s}`];
    for (let i = 0; i < 1 + (s % 3); i++) out.push(check(i % 2 ? 'n2' : 'n1', `s${s}-${i}`, `s${s}`, tags, 'passing'));
  }
  return out;
}

const STATUS = ['passing', 'warning', 'critical'];
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('status' as const), at: fc.nat(), status: fc.constantFrom(...STATUS) }),
  fc.record({
    kind: fc.constant('output' as const),
    at: fc.nat(),
    text: fc.constantFrom('},{"Node":"x"', 'ok', '\\"}]'),
  }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), s: fc.nat(9), node: fc.constantFrom('n1', 'n2', 'n3') }),
  fc.record({
    kind: fc.constant('serf' as const),
    node: fc.constantFrom('n1', 'n2'),
    status: fc.constantFrom(...STATUS),
  }),
  fc.record({ kind: fc.constant('svcmaint' as const), s: fc.nat(7), on: fc.boolean() }),
  fc.record({ kind: fc.constant('nodemaint' as const), on: fc.boolean() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

let added = 0;
function apply(cs: Check[], m: Mutation): void {
  const at = (n: number) => n % cs.length;
  switch (m.kind) {
    case 'status':
      if (cs.length) (cs[at(m.at)] as Check).Status = m.status;
      return;
    case 'output':
      if (cs.length) (cs[at(m.at)] as Check).Output = m.text;
      return;
    case 'remove':
      if (cs.length) cs.splice(at(m.at), 1);
      return;
    case 'add':
      // Node + CheckID is unique in Consul.
      cs.push(check(m.node, `s${m.s}-x${++added}`, `s${m.s}`, [`urlprefix-/s${m.s}`], 'passing'));
      return;
    case 'serf': {
      const c = cs.find((x) => x.CheckID === 'serfHealth' && x.Node === m.node);
      if (c) c.Status = m.status;
      return;
    }
    case 'svcmaint': {
      const id = `_service_maintenance:s${m.s}-0`;
      const i = cs.findIndex((x) => x.CheckID === id);
      if (m.on && i < 0) cs.push(check('n1', `s${m.s}-0`, `s${m.s}`, [`urlprefix-/s${m.s}`], 'critical', id));
      if (!m.on && i >= 0) cs.splice(i, 1);
      return;
    }
    case 'nodemaint': {
      const i = cs.findIndex((x) => x.CheckID === '_node_maintenance');
      if (m.on && i < 0) cs.push({ ...serf('n2', 'critical'), CheckID: '_node_maintenance' });
      if (!m.on && i >= 0) cs.splice(i, 1);
      return;
    }
  }
}

test('HealthState equals a full parse and filter after any sequence of changes', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 25 }), fc.constantFrom('one', 'all'), (ms, req) => {
      const opts = { ...OPTS, checksRequired: req as 'one' | 'all' };
      const hs = new HealthState(opts);
      const cs = cluster();
      for (const m of [undefined, ...ms]) {
        if (m) apply(cs, m);
        const body = JSON.stringify(cs);
        const r = hs.read(body);
        assert.deepEqual(view(r.healthy), view(healthyServices(JSON.parse(body), opts)), JSON.stringify(m));
        if (cs.length > 0) assert.equal(r.mode, 'incremental');
      }
    }),
    { numRuns: 200 },
  );
});

test('only changed checks are parsed; unchanged bodies reuse everything', () => {
  const hs = new HealthState(OPTS);
  const cs = cluster();
  assert.equal(hs.read(JSON.stringify(cs)).parsed, cs.length);
  assert.equal(hs.read(JSON.stringify(cs)).parsed, 0);
  (cs[3] as Check).Status = 'critical';
  const r = hs.read(JSON.stringify(cs));
  assert.equal(r.parsed, 1);
  assert.equal(r.mode, 'incremental');
});

test('bodies it cannot split fall back to a full parse with the same result', () => {
  const cases: [string, string][] = [
    ['pretty printed', JSON.stringify(cluster(), null, 2)],
    ['other key order', JSON.stringify(cluster().map(({ CheckID, ...rest }) => ({ CheckID, ...rest })))],
    ['empty list', '[]'],
    ['null', 'null'],
  ];
  for (const [what, body] of cases) {
    const hs = new HealthState(OPTS);
    hs.read(JSON.stringify(cluster()));
    const r = hs.read(body);
    assert.equal(r.mode, 'full', what);
    assert.deepEqual(view(r.healthy), view(healthyServices(JSON.parse(body) ?? [], OPTS)), what);
  }
  assert.throws(() => new HealthState(OPTS).read('{"a":1}'), /not a list/);
  assert.throws(() => new HealthState(OPTS).read('[{"Node":'), SyntaxError);
});

test('reads the bytes of an answer: one edit anywhere in a large body parses only the pieces it touched', () => {
  // 600 checks; each step removes, inserts or changes one check at a random position (the front
  // and the back included) and the bytes go in as the client received them.
  const edit = fc.record({
    kind: fc.constantFrom('remove', 'insert', 'change', 'none'),
    at: fc.nat(),
    status: fc.constantFrom(...STATUS),
  });
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 12 }), (edits) => {
      const cs: Check[] = [serf('n1')];
      for (let s = 0; s < 200; s++)
        for (let i = 0; i < 3; i++) cs.push(check('n1', `s${s}-${i}`, `s${s}`, [`urlprefix-/s${s}`], 'passing'));
      const hs = new HealthState(OPTS);
      hs.read(Buffer.from(JSON.stringify(cs)));
      for (const e of edits) {
        const at = 1 + (e.at % (cs.length - 1)); // the serf check stays
        let want = 0;
        if (e.kind === 'remove') {
          // the last check's removal changes the delimiter after the one before it (`},{` → `}]`),
          // so that one is parsed again; any other removal parses nothing
          if (at === cs.length - 1) want = 1;
          cs.splice(at, 1);
        } else if (e.kind === 'insert') {
          cs.splice(at, 0, check('n1', `x${++added}`, `s${at % 200}`, [`urlprefix-/s${at % 200}`], e.status));
          want = 1;
        } else if (e.kind === 'change') {
          (cs[at] as Check).Status = (cs[at] as Check).Status === 'passing' ? 'critical' : 'passing';
          want = 1;
        }
        const body = JSON.stringify(cs);
        const r = hs.read(new Uint8Array(Buffer.from(body)));
        assert.equal(r.mode, 'incremental', e.kind);
        assert.equal(r.parsed, want, e.kind);
        assert.deepEqual(view(r.healthy), view(healthyServices(JSON.parse(body), OPTS)), e.kind);
      }
    }),
    { numRuns: 60 },
  );
});

test('an answer prepared before a reset does not become the base after it', () => {
  const hs = new HealthState(OPTS);
  const cs = cluster();
  const stale = hs.prepare(Buffer.from(JSON.stringify(cs)));
  hs.reset();
  stale.commit();
  // nothing was committed: the same body is read in full again
  assert.equal(hs.read(Buffer.from(JSON.stringify(cs))).parsed, cs.length);
});

/**
 * What HealthState keeps between answers is a lean copy of each check (the filter's six fields): extra
 * fields must not change what is read, and malformed entries must be reported with the same words.
 */
const FIELDS = ['CheckID', 'Node', 'ServiceID', 'ServiceName', 'ServiceTags', 'Status'];

/** Only the fields the filter reads, as a Consul without the live-only fields would print it. */
const bare = (c: Record<string, unknown>) =>
  checkProblem(c) === undefined ? Object.fromEntries(FIELDS.map((f) => [f, c[f]])) : c;

function checks(): Record<string, unknown>[] {
  const extra = {
    Notes: 'see },{"Node":"n9"} and }]',
    Output: 'HTTP GET http://10.0.0.5:8080/health: 200 OK Output: {"ok":true}',
    Definition: { HTTP: 'http://10.0.0.5/', Header: { X: ['a', 'b'] }, Interval: '10s' },
    ExposedPort: 0,
    Namespace: 'default',
  };
  const web = ['urlprefix-/web', 'green'];
  return [
    serf('n1'),
    serf('n2'),
    { ...check('n1', 'web-1', 'web', [...web], 'passing'), ...extra },
    { ...check('n1', 'web-2', 'web', [...web], 'passing'), ...extra },
    { ...check('n2', 'web-3', 'web', [...web], 'critical'), ...extra },
    { ...check('n1', 'x-1', 'x', ['urlprefix-/x'], 'passing'), ServiceTags: 'urlprefix-/x' },
    { ...check('n1', 'y-1', 'y', ['urlprefix-/y'], 'passing'), Node: 7 },
    { ...check('n1', 'z-1', 'z', ['urlprefix-/z'], 'passing'), Status: null },
    { ...check('n2', 'api-1', 'api', ['urlprefix-/api'], 'passing'), ServiceName: undefined, Extra: [1, 2] },
    { ...check('n2', 'api-2', 'api', ['urlprefix-/api'], 'passing'), ServiceID: undefined },
  ];
}

test('HealthState keeps the six fields of a well-formed check, reads extra fields the same and words malformed ones as before', () => {
  let cs = checks();
  let hs = new HealthState(OPTS);
  // a pretty-printed first answer is read whole (JSON.parse), a compact one piece by piece
  for (const [first, step] of ['full', 'incremental'].flatMap((f) =>
    ['first', 'one changed', 'one removed'].map((s) => [f, s] as const),
  )) {
    if (step === 'first') {
      cs = checks();
      hs = new HealthState(OPTS);
    }
    if (step === 'one changed') (cs[3] as { Status: string }).Status = 'warning';
    if (step === 'one removed') cs.splice(4, 1);
    const pretty = step === 'first' && first === 'full';
    const r = hs.read(Buffer.from(JSON.stringify(cs, null, pretty ? 1 : undefined)));
    assert.equal(r.mode, pretty ? 'full' : 'incremental', step);
    assert.deepEqual(view(r.healthy), view(healthyServices(cs.map(bare) as unknown as HealthCheck[], OPTS)), step);
    assert.deepEqual(
      r.rejected,
      cs.map(checkProblem).filter((p) => p !== undefined),
      step,
    );
    assert.equal(
      r.rejected[0],
      'check "service:x-1" of service "x" on node "n1": ServiceTags is not a list of strings',
    );
    assert.equal(r.rejected[1], 'check "service:y-1" of service "y" on node "7": Node is not a string');
    assert.equal(r.rejected.length, 3, step);
    for (const [k, c] of r.checks.entries()) {
      if (checkProblem(c) !== undefined) assert.equal(Object.keys(c).includes('Definition'), true, `${step} ${k}`);
      else assert.deepEqual(Object.keys(c).sort(), FIELDS, `${step} ${k}`);
    }
    // the checks of one service share one frozen tags list (a re-parsed one too)
    const web = r.checks.filter((c) => c.ServiceName === 'web');
    assert.ok(web.length >= 2, step);
    for (const c of web) {
      assert.equal(c.ServiceTags, web[0]?.ServiceTags, step);
      assert.ok(Object.isFrozen(c.ServiceTags), step);
    }
  }
});

test('a first read parses the body in batches; a nested `},{"Node":` anywhere, a batch cut included, reads as a whole parse', () => {
  for (const at of [1, 700, 1022, 1023, 1024, 1025, 2047, 2048, 2098]) {
    const cs: Record<string, unknown>[] = [serf('n1')];
    for (let s = 0; s < 700; s++)
      for (let i = 0; i < 3; i++) cs.push(check('n1', `s${s}-${i}`, `s${s}`, [`urlprefix-/s${s}`], 'passing'));
    cs[at] = { ...cs[at], Definition: { Checks: [{ a: 1 }, { Node: 'n9', CheckID: 'inner' }] }, Status: 'critical' };
    cs[at + 1] = { ...cs[at + 1], ServiceTags: 'urlprefix-/bad' };
    const body = JSON.stringify(cs);
    assert.ok(body.split('},{"Node":').length > cs.length, 'the nested list adds a separator');
    const hs = new HealthState(OPTS);
    const r = hs.read(Buffer.from(body));
    assert.equal(r.mode, 'full');
    assert.deepEqual(view(r.healthy), view(healthyServices(JSON.parse(body), OPTS)), `at ${at}`);
    assert.deepEqual(r.rejected, [checkProblem(cs[at + 1])], `at ${at}`);
    assert.equal(r.checks.length, cs.length, `at ${at}`);
    // the next answer is not lined up against pieces that are not checks
    (cs[at + 2] as { Status: string }).Status = 'critical';
    const next = JSON.stringify(cs);
    assert.deepEqual(view(hs.read(Buffer.from(next)).healthy), view(healthyServices(JSON.parse(next), OPTS)));
  }
});
