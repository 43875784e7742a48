import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RouteLineSet, sortDescending } from '../../src/registry/consul/route-lines.ts';
import { applyHunks } from '../../src/routes/index.ts';

/** Lines of service s, as the registry writes them (a few per service; some repeated on purpose). */
const linesOf = (s: number, v: number, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `route add svc${s} svc${s}.example.com/p${i % 2} http://10.0.${v}.${i % 3}:80/`);

test('RouteLineSet: the edit of each text turns the text before into it (random service changes)', () => {
  let edits = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 })),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        { minLength: 1, maxLength: 12 },
      ),
      (rounds) => {
        const set = new RouteLineSet();
        const model = new Map<string, string[]>();
        let before = set.text();
        for (const round of rounds) {
          for (const [s, v, n] of round) {
            const lines = linesOf(s, v, n);
            set.set(`svc${s}`, n === 0 ? undefined : { lines, warnings: [] });
            if (n === 0) model.delete(`svc${s}`);
            else model.set(`svc${s}`, lines);
          }
          const text = set.text();
          assert.equal(text, sortDescending([...model.values()].flat()).join('\n'));
          const edit = set.edit();
          // an unchanged text keeps the edit that made it (from the text before that)
          if (edit !== undefined && text !== before) {
            edits++;
            assert.equal(edit.base, before);
            assert.equal(applyHunks(edit.base, edit.hunks), text);
            for (let k = 1; k < edit.hunks.length; k++) {
              const p = edit.hunks[k - 1];
              assert.ok(p !== undefined && p.at + p.del < (edit.hunks[k]?.at ?? 0), 'hunks in order, apart');
            }
          }
          before = text;
        }
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(edits > 300, `${edits} texts made by an edit`);
});

test('RouteLineSet: one service changing in 3,000 lines is one small hunk', () => {
  const set = new RouteLineSet();
  for (let s = 0; s < 1000; s++) set.set(`svc${s}`, { lines: linesOf(s, 0, 3), warnings: [] });
  const before = set.text();
  set.set('svc500', { lines: linesOf(500, 1, 3), warnings: [] });
  const text = set.text();
  const edit = set.edit();
  assert.ok(edit !== undefined);
  assert.equal(edit.base, before);
  assert.equal(edit.hunks.length, 1);
  assert.equal(edit.hunks[0]?.ins, `${linesOf(500, 1, 3).sort().reverse().join('\n')}\n`);
  assert.equal(applyHunks(before, edit.hunks), text);
  // the last service in the order (the end of the text) and the first
  for (const s of [0, 999, 99]) {
    const b = set.text();
    set.set(`svc${s}`, undefined);
    const e = set.edit();
    assert.ok(e !== undefined);
    assert.equal(e.hunks.length, 1);
    assert.equal(applyHunks(b, e.hunks), set.text());
  }
});

test('RouteLineSet.adopt: the flat copy becomes the text and the base of the next edit; a stale one is ignored', () => {
  const set = new RouteLineSet();
  for (let s = 0; s < 20; s++) set.set(`svc${s}`, { lines: linesOf(s, 0, 2), warnings: [] });
  const t1 = set.text();
  // as the backend makes it: a slice of the whole route text (service lines, newline, overrides)
  const flat = `${t1}\nroute del svc3`.slice(0, t1.length);
  assert.equal(set.adopt(flat), true);
  assert.equal(set.text(), flat);
  set.set('svc7', { lines: linesOf(7, 1, 2), warnings: [] });
  const t2 = set.text();
  const edit = set.edit();
  assert.ok(edit !== undefined && edit.base === flat, 'the next edit is of the adopted text');
  assert.equal(applyHunks(edit.base, edit.hunks), t2);
  // a copy of another length (the text changed since it was made) is not taken
  set.set('svc8', undefined);
  assert.equal(set.adopt(flat), false);
  assert.notEqual(set.text().length, flat.length);
  assert.equal(
    set.text(),
    sortDescending([...Array(20).keys()].filter((s) => s !== 8).flatMap((s) => linesOf(s, s === 7 ? 1 : 0, 2))).join(
      '\n',
    ),
  );
});

test('RouteLineSet.warnings: the warnings of the services that have some, over random changes (kept apart from the lines)', () => {
  let seed = 11;
  const r = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const set = new RouteLineSet();
  const model = new Map<string, { service: string; tag: string; message: string }[]>();
  for (let step = 0; step < 2000; step++) {
    const s = Math.floor(r() * 40);
    const name = `svc${s}`;
    const roll = r();
    if (roll < 0.2) {
      set.set(name, undefined);
      model.delete(name);
    } else {
      const warnings =
        roll < 0.5
          ? []
          : Array.from({ length: 1 + Math.floor(r() * 2) }, (_, k) => ({
              service: name,
              tag: `t${k}`,
              message: `m${step}`,
            }));
      set.set(name, { lines: linesOf(s, Math.floor(r() * 3), 1 + Math.floor(r() * 2)), warnings });
      model.set(name, warnings);
    }
    if (step % 50 === 0) {
      const key = (w: { service: string; tag: string }) => `${w.service} ${w.tag}`;
      const got = set.warnings().map(key).sort();
      const want = [...model.values()].flat().map(key).sort();
      assert.deepEqual(got, want, `step ${step}`);
    }
  }
});
