import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withChanges } from '../../src/routes/layered-map.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('withChanges equals a copied Map over random change sequences (layers, deletions, flattening)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = rng(seed);
    const n = 50 + Math.floor(r() * 500);
    const model = new Map<string, number>();
    for (let i = 0; i < n; i++) model.set(`k${i}`, i);
    let m: ReadonlyMap<string, number> = new Map(model);
    const history: [ReadonlyMap<string, number>, Map<string, number>][] = [];
    for (let step = 0; step < 200; step++) {
      const changes = new Map<string, number | undefined>();
      const count = r() < 0.9 ? 1 + Math.floor(r() * 3) : Math.floor(r() * n);
      for (let c = 0; c < count; c++) {
        const k = `k${Math.floor(r() * n * 1.2)}`; // sometimes a key never seen
        const v = r() < 0.3 ? undefined : Math.floor(r() * 1000);
        changes.set(k, v);
      }
      for (const [k, v] of changes)
        if (v === undefined) model.delete(k);
        else model.set(k, v);
      m = withChanges(m, changes);
      history.push([m, new Map(model)]);
      assert.equal(m.size, model.size, `seed ${seed} step ${step}`);
      assert.deepEqual(new Map([...m].sort()), new Map([...model].sort()), `seed ${seed} step ${step}`);
      for (let q = 0; q < 20; q++) {
        const k = `k${Math.floor(r() * n * 1.2)}`;
        assert.equal(m.get(k), model.get(k));
        assert.equal(m.has(k), model.has(k));
      }
      assert.deepEqual([...m.keys()].sort(), [...model.keys()].sort());
      assert.deepEqual([...m.values()].sort(), [...model.values()].sort());
      let seen = 0;
      m.forEach((v, k) => {
        assert.equal(model.get(k), v);
        seen++;
      });
      assert.equal(seen, model.size);
    }
    // earlier versions are never changed by later ones (every table stays immutable)
    for (const [old, copy] of history) assert.deepEqual(new Map([...old].sort()), new Map([...copy].sort()));
  }
});

test('withChanges keeps the map it was given and returns it when nothing changed', () => {
  const base = new Map([['a', 1]]);
  assert.equal(withChanges(base, new Map()), base);
  const next = withChanges(base, new Map([['a', 2]]));
  assert.equal(base.get('a'), 1);
  assert.equal(next.get('a'), 2);
});
