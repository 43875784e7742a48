import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { commonLines } from '../../src/routes/index.ts';
import { diffLines, editDiff, lineDiff, split } from '../../src/runtime/route-log.ts';
import { textHunks } from '../../src/runtime/route-sync.ts';

// Texts made of a few distinct lines, so prefixes, suffixes and repeats are common.
const line = fc.constantFrom('route add a /a http://1/', 'route add b /b http://2/', '', 'x', '# c', 'y\r');
const text = fc.array(line, { maxLength: 12 }).map((ls) => ls.join('\n'));

test('commonLines covers only whole lines the two texts share at the start and the end', () => {
  fc.assert(
    fc.property(text, text, (a, b) => {
      const { start, end } = commonLines(a, b);
      assert.ok(start + end <= Math.min(a.length, b.length));
      const pre = a.slice(0, start);
      const suf = a.slice(a.length - end);
      assert.equal(b.slice(0, start), pre, 'same prefix');
      assert.equal(b.slice(b.length - end), suf, 'same suffix');
      assert.ok(pre === '' || pre.endsWith('\n'), `prefix ends at a line boundary: ${JSON.stringify(pre)}`);
      assert.ok(suf === '' || suf.startsWith('\n'), `suffix starts at a line boundary: ${JSON.stringify(suf)}`);
      // the shortcut changes nothing: the same diff as splitting the whole texts
      assert.deepEqual(lineDiff(a, b), diffLines(split(a), split(b)));
    }),
    { numRuns: 2000 },
  );
});

test('lineDiff of a one-line change in a 15,000-line text names just that line', () => {
  const lines = Array.from({ length: 15_000 }, (_, i) => `route add s${i} s${i}.com/ http://10.0.0.${i % 250}:80/`);
  const after = lines.slice();
  after[7_321] = 'route add s7321 s7321.com/ http://10.0.0.99:81/';
  after.splice(12_000, 1);
  const d = lineDiff(lines.join('\n'), after.join('\n'));
  assert.deepEqual(d.removed, [lines[7_321], lines[12_000]]);
  assert.deepEqual(d.added, [after[7_321]]);
});

test('editDiff: the diff of an edit equals lineDiff of the two texts (one hunk), the same lines (several)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 30 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 30 }),
      fc.boolean(),
      (xs, ys, wide) => {
        const text = (ns: number[]) =>
          `${ns
            .map((n) => `route add s${n} /p${n} http://10.0.0.${n}/`)
            .sort()
            .reverse()
            .join('\n')}\nroute del s1`;
        const a = text(xs);
        const b = text(ys);
        let p = 0;
        while (p < a.length && p < b.length && a[p] === b[p]) p++;
        let s = 0;
        while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
        if (wide) p = Math.floor(p / 2);
        const one = editDiff({ base: a, hunks: [{ at: p, del: a.length - p - s, ins: b.slice(p, b.length - s) }] });
        assert.deepEqual(one, lineDiff(a, b));
        const many = editDiff({ base: a, hunks: textHunks(a, b) });
        const sorted = (d: { added: string[]; removed: string[] }) => [
          d.added.slice().sort(),
          d.removed.slice().sort(),
        ];
        assert.deepEqual(sorted(many), sorted(lineDiff(a, b)));
      },
    ),
    { numRuns: 300 },
  );
});
