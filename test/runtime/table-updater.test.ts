import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import type { Table, Warning } from '../../src/routes/types.ts';
import { ownLines } from '../../src/runtime/history.ts';
import { lineDiff } from '../../src/runtime/route-log.ts';
import { TableUpdater, type TableUpdaterOptions } from '../../src/runtime/table-updater.ts';

/** A stand-in table: the updater only uses source, warnings and dump(). */
function fakeTable(text: string, warnings: Warning[] = []): Table {
  return {
    source: text,
    warnings,
    routes: [],
    lookup: () => undefined,
    lookupTcp: () => undefined,
    explain: (req) => ({ request: req, steps: [], result: undefined }),
    print: () => text,
    dump: () => `+-- dump of ${text.split('\n').length} lines`,
  };
}

function setup(over: Partial<TableUpdaterOptions> = {}) {
  const store = new TableStore();
  const log = memoryLogger('TRACE');
  const builds: string[] = [];
  const build = (text: string) => {
    builds.push(text);
    if (text.includes('BAD')) throw new Error('line 2: route: invalid command');
    return fakeTable(text);
  };
  const u = new TableUpdater({
    store,
    log,
    build,
    routesFormat: 'delta',
    now: () => new Date('2026-01-02T03:04:05.000Z'),
    ...over,
  });
  return { store, log, builds, u };
}

const up = (text: string, cause = 'consul', index = 1) => ({ text, cause, index });

test('first update is applied at once, logged as delta, resolves firstTable', async () => {
  const { store, log, u } = setup();
  u.update(up('route add a /a http://a:1/\nroute add b /b http://b:1/'));
  assert.equal(store.current?.source, 'route add a /a http://a:1/\nroute add b /b http://b:1/');
  const t = await u.firstTable;
  assert.equal(t, store.current);
  assert.deepEqual(log.lines, ['[INFO] Config updates\n+ route add a /a http://a:1/\n+ route add b /b http://b:1/']);
  const h = u.history();
  assert.equal(h.length, 1);
  assert.deepEqual(h[0], {
    time: '2026-01-02T03:04:05.000Z',
    cause: 'consul',
    index: 1,
    added: ['route add a /a http://a:1/', 'route add b /b http://b:1/'],
    removed: [],
  });
});

test('identical text never rebuilds', () => {
  const { builds, u } = setup({ coalesceMs: 0 });
  u.update(up('route add a /a http://a:1/'));
  u.update(up('route add a /a http://a:1/', 'kv', 2));
  u.flush();
  assert.equal(builds.length, 1);
  assert.equal(u.history().length, 1);
});

test('delta shows removed and added raw lines; unchanged delta logs nothing', () => {
  const { log, u } = setup({ coalesceMs: 0 });
  u.update(up('route add a /a http://a:1/ weight 0.5\nroute add b /b http://b:1/'));
  log.lines.length = 0;
  u.update(up('route add b /b http://b:1/\nroute add c /c http://c:1/ tags "x"'));
  assert.deepEqual(log.lines, [
    '[INFO] Config updates\n- route add a /a http://a:1/ weight 0.5\n+ route add c /c http://c:1/ tags "x"',
  ]);
  log.lines.length = 0;
  u.update(up('route add b /b http://b:1/\n\nroute add c /c http://c:1/ tags "x"'));
  assert.deepEqual(log.lines, [], 'only a blank line changed');
});

test('all and detail formats', () => {
  for (const [format, want] of [
    ['all', '[INFO] Updated config to\nroute add a /a http://a:1/\n# --- /fabio/config\nroute del a'],
    ['detail', '[INFO] Updated config to\n+-- dump of 3 lines'],
  ] as const) {
    const { log, u } = setup({ routesFormat: format });
    u.update(up('route add a /a http://a:1/\n# --- /fabio/config\nroute del a'));
    assert.deepEqual(log.lines, [want], format);
  }
});

test('failed build keeps the old table, logs WARN, records the error', () => {
  const changes: unknown[] = [];
  const { store, log, u } = setup({ coalesceMs: 0 });
  u.onChange((e) => changes.push(e.entry?.error ?? 'ok'));
  u.update(up('route add a /a http://a:1/'));
  const good = store.current;
  log.lines.length = 0;
  u.update(up('route add a /a http://a:1/\nBAD', 'kv', 7));
  assert.equal(store.current, good);
  assert.deepEqual(log.lines, ['[WARN] line 2: route: invalid command']);
  const last = u.history().at(-1);
  assert.equal(last?.error, 'line 2: route: invalid command');
  assert.deepEqual(last?.added, ['BAD']);
  assert.equal(last?.index, 7);
  assert.equal(u.warnings().buildError, 'line 2: route: invalid command');
  assert.deepEqual(changes, ['ok', 'line 2: route: invalid command']);
  // the same bad text again is not rebuilt or logged again
  u.update(up('route add a /a http://a:1/\nBAD', 'kv', 8));
  assert.equal(log.lines.length, 1);
  // a good text clears the error and diffs against the live table
  u.update(up('route add z /z http://z:1/'));
  assert.equal(u.warnings().buildError, '');
  assert.deepEqual(u.history().at(-1)?.removed, ['route add a /a http://a:1/']);
});

test('a burst coalesces: first change at once, the rest once with the latest text within the window', async (t) => {
  // The window's timer runs on node:test's mock clock: one window of mock time applies the burst.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { store, builds, u } = setup({ coalesceMs: 20 });
  const swapped = new Promise<void>((resolve) => store.onSwap((x) => x.source === 'v9' && resolve()));
  for (let i = 0; i < 10; i++) u.update(up(`v${i}`));
  assert.deepEqual(builds, ['v0']);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(builds, ['v0'], 'the rest waits for the window');
  t.mock.timers.tick(20);
  await swapped;
  assert.deepEqual(builds, ['v0', 'v9']);
  u.close();
});

test('a burst that returns to the live text builds nothing more', async () => {
  const { builds, u } = setup({ coalesceMs: 5 });
  u.update(up('v0'));
  u.update(up('v1'));
  u.update(up('v0'));
  u.flush();
  assert.deepEqual(builds, ['v0']);
});

test('history keeps the last 100 changes', () => {
  const { u } = setup({ coalesceMs: 0 });
  for (let i = 0; i < 130; i++) u.update(up(`route add s${i} /p http://h:1/`, 'consul', i));
  const h = u.history();
  assert.equal(h.length, 100);
  assert.equal(h[0]?.index, 30);
  assert.equal(h[99]?.index, 129);
});

test('tag warnings are kept for the UI and logged once while they persist', () => {
  const { log, u } = setup({ coalesceMs: 0 });
  const tagWarnings = [{ service: 'web', tag: 'urlprefix-/a"b', message: 'tag contains a quote' }];
  u.update({ ...up('v1'), tagWarnings });
  u.update({ ...up('v2'), tagWarnings });
  assert.deepEqual(u.warnings().tags, tagWarnings);
  assert.equal(log.lines.filter((l) => l.startsWith('[WARN] Skipping tag')).length, 1);
  u.update({ ...up('v3'), tagWarnings: [] });
  assert.deepEqual(u.warnings().tags, []);
});

test('tag warnings that change with the same route text appear and go at once, with a change event', () => {
  const { log, u, builds } = setup({ coalesceMs: 0 });
  const events: unknown[] = [];
  u.onChange((e) => events.push(e.entry === undefined ? 'warnings' : 'table'));
  u.update({ ...up('v1'), tagWarnings: [] });
  const w = { service: 'web', tag: 'urlprefix-/a proto=htttp', message: 'unknown proto' };
  u.update({ ...up('v1'), tagWarnings: [w] });
  assert.deepEqual(u.warnings().tags, [w]);
  u.update({ ...up('v1'), tagWarnings: [w] });
  u.update({ ...up('v1'), tagWarnings: [] }); // the service was deregistered
  assert.deepEqual(u.warnings().tags, []);
  assert.deepEqual(builds, ['v1']);
  assert.deepEqual(events, ['table', 'warnings', 'warnings']);
  assert.equal(log.lines.filter((l) => l.includes('Skipping tag')).length, 1);
});

test('table warnings are logged when they first appear', () => {
  const store = new TableStore();
  const log = memoryLogger('TRACE');
  const w = { line: 2, service: 'a', message: 'route weight: no route for a' };
  const u = new TableUpdater({ store, log, build: (t) => fakeTable(t, [w]), routesFormat: 'all', coalesceMs: 0 });
  u.update(up('x'));
  u.update(up('y'));
  assert.equal(log.lines.filter((l) => l === '[WARN] route weight: no route for a').length, 1);
  assert.deepEqual(u.warnings().table, [w]);
});

test('onSwap is called with the new table', () => {
  const seen: string[] = [];
  const { u } = setup({ onSwap: (t) => seen.push(t.source) });
  u.update(up('v1'));
  assert.deepEqual(seen, ['v1']);
});

test('lineDiff: large texts fall back to a multiset compare with the same result', () => {
  const a = Array.from({ length: 5000 }, (_, i) => `route add s${i} /p${i} http://h:${i}/`);
  const b = [...a.slice(0, 2000), 'route add new /n http://n:1/', ...a.slice(2001), 'route add tail /t http://t:1/'];
  b.reverse();
  const d = lineDiff(a.join('\n'), b.join('\n'));
  assert.deepEqual(d.removed, ['route add s2000 /p2000 http://h:2000/']);
  assert.deepEqual(d.added.sort(), ['route add new /n http://n:1/', 'route add tail /t http://t:1/']);
});

test('a throwing swap subscriber does not stop history or firstTable', async () => {
  const { store, log, u } = setup();
  store.onSwap(() => {
    throw new Error('boom');
  });
  u.update(up('v1'));
  assert.equal((await u.firstTable).source, 'v1');
  assert.equal(u.history().length, 1);
  assert.ok(log.lines.includes('[ERROR] table swap subscriber failed: boom'));
});

test('after close, updates are ignored and a pending one is dropped', async () => {
  const { builds, u } = setup({ coalesceMs: 10_000 });
  u.update(up('v1'));
  u.update(up('v2'));
  u.close();
  u.update(up('v3'));
  u.flush();
  assert.deepEqual(builds, ['v1']);
});

test('history lines are copies when they are a small part of their text, the lines themselves when most of it', () => {
  // (a slice of a route text keeps the whole text alive; the copy is what the history keeps)
  const text = Array.from({ length: 100 }, (_, i) => `route add s${i} /s${i} http://10.0.0.${i}:80/`).join('\n');
  const lines = text.split('\n');
  assert.equal(ownLines(lines, text), lines);
  const most = lines.slice(0, 60);
  assert.equal(ownLines(most, text), most);
  const few = lines.slice(3, 5);
  const own = ownLines(few, text);
  assert.notEqual(own, few);
  assert.deepEqual(own, few);
  assert.deepEqual(ownLines([], ''), []);
});
