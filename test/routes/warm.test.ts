import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable, warmBuilds } from '../../src/routes/index.ts';
import { dst, OPTS } from './helpers.ts';

test('warm-up builds leave the live table, its round-robin position and later builds as they were', () => {
  const counters = new Map<string, number>();
  const opts = { ...OPTS, strategy: 'rr' as const, counters };
  // the line taken out and put back by the warm-up is one of /x's two targets: with the live
  // counters, /x would drop to one target (its counter deleted) and come back at position 0
  const text = [
    'route add a /a http://a1/',
    'route add b /b http://b1/',
    'route add x /x http://x1/',
    'route add x /x http://x2/',
    'route add z /z http://z1/',
  ].join('\n');
  const t = buildTable(text, opts);
  assert.equal(dst(t, 'h', '/x'), 'http://x1/');
  const before = new Map(counters);
  assert.ok(before.has('/x'));
  warmBuilds(t, opts, 3);
  assert.deepEqual(counters, before);
  assert.equal(t.source, text);
  assert.equal(dst(t, 'h', '/x'), 'http://x2/', 'the rr position moved on from where it was');
  // an incremental build from the warmed table equals a fresh one
  const next = `${text}\nroute add y /y http://y1/`;
  const inc = buildTable(next, opts, t, [
    { base: text, hunks: [{ at: text.length, del: 0, ins: '\nroute add y /y http://y1/' }] },
  ]);
  assert.equal(inc.print(), buildTable(next, { ...OPTS, strategy: 'rr' }).print());
});

test('warm-up of texts without a route add line, with one line, or with other commands: nothing thrown', () => {
  for (const text of [
    '',
    'route del x',
    'route add a /a http://a/',
    'route add a /a http://a/\n',
    'route weight a /a weight 0.5 tags "x"\nroute add a /a http://a/\nroute del a /a',
    'route add a /a http://a/\nroute add b /b http://b/\nroute add c /c http://c/\n',
  ]) {
    const t = buildTable(text, OPTS);
    const printed = t.print();
    warmBuilds(t, OPTS, 2);
    assert.equal(t.print(), printed, JSON.stringify(text));
  }
});
