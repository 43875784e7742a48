import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterSwaps } from '../../src/proxy/after-swaps.ts';
import type { Table } from '../../src/routes/index.ts';
import { until } from '../helpers/proc.ts';

const tables = (n: number) => Array.from({ length: n }, (_, i) => ({ source: `t${i}` }) as unknown as Table);

test('afterSwaps: nothing on the swap, then one prune per burst against the table live by then', async () => {
  const seen: Table[] = [];
  const prune = afterSwaps((t) => seen.push(t), 20);
  const [a, b, c] = tables(3);
  prune(a as Table);
  prune(b as Table);
  prune(c as Table);
  assert.equal(seen.length, 0, 'pruned on the swap');
  await until(() => seen.length > 0);
  assert.deepEqual(seen, [c]);
  prune(a as Table);
  await until(() => seen.length > 1);
  assert.deepEqual(seen, [c, a]);
});

test('afterSwaps: a prune that throws costs that prune only; the next burst prunes again', async () => {
  let calls = 0;
  const prune = afterSwaps(() => {
    calls++;
    if (calls === 1) throw new Error('label set gone');
  }, 5);
  const [a, b] = tables(2);
  prune(a as Table);
  await until(() => calls === 1);
  prune(b as Table);
  await until(() => calls === 2);
});
