import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PoolCache } from '../../../src/proxy/http/pools.ts';
import { buildTable } from '../../../src/routes/index.ts';
import { TableStore } from '../../../src/routes/table-store.ts';

const OPTS = { matcher: 'prefix', strategy: 'rr', globDisabled: false, globCacheSize: 10 } as const;
const SETTINGS = { maxConn: 10, dialTimeout: 1000, headersTimeout: 0, idleTimeout: 15000, tcpKeepAlive: 0 };

/** A store, a cache that prunes on the swap itself, and the first table of `lines` swapped in. */
function cacheWith(t: { after(fn: () => unknown): void }, lines: string[]) {
  const store = new TableStore();
  const pools = new PoolCache(store, SETTINGS, 0);
  t.after(() => pools.close());
  const t1 = buildTable(lines.join('\n'), OPTS);
  store.swap(t1);
  return { store, pools, t1 };
}

test('pool cache: one pool per target and transport options, pruned on swap', async (t) => {
  const { store, pools, t1 } = cacheWith(t, [
    'route add a /a http://127.0.0.1:1/',
    'route add b /b http://127.0.0.1:2/',
    'route add b /c https://127.0.0.1:2/ opts "tlsskipverify=true"',
    'route add b /d https://127.0.0.1:2/',
  ]);
  const targets = t1.routes.flatMap((r) => r.targets);
  const got = targets.map((x) => pools.get(x));
  assert.equal(pools.size, 4);
  assert.equal(pools.get(targets[0] as never), got[0], 'same pool for the same target');
  // A rebuilt table with equal targets reuses the pools; a vanished target's pool is closed.
  const t2 = buildTable('route add a /a http://127.0.0.1:1/', OPTS);
  store.swap(t2);
  assert.equal(pools.size, 1);
  const a2 = t2.routes[0]?.targets[0];
  assert.ok(a2);
  assert.equal(
    pools.get(a2),
    got.find((_, i) => targets[i]?.service === 'a'),
  );
  assert.equal(got[1]?.closed, true);
});

test('pool cache: pools taken with their routes are checked by route; a target that left closes its pool, one another route still has stays', async (t) => {
  const { store, pools, t1 } = cacheWith(t, [
    'route add a /a http://127.0.0.1:1/',
    'route add b /b http://127.0.0.1:2/',
    'route add c /c http://127.0.0.1:3/',
  ]);
  const got = t1.routes.map((r) => pools.get(r.targets[0] as never, r));
  assert.equal(got.length, 3);
  // /a unchanged; /b's target moved to another port; /c is gone but its upstream is now /d's
  store.swap(
    buildTable(
      [
        'route add a /a http://127.0.0.1:1/',
        'route add b /b http://127.0.0.1:4/',
        'route add c /d http://127.0.0.1:3/',
      ].join('\n'),
      OPTS,
    ),
  );
  const byPort = (p: number) => got[t1.routes.findIndex((r) => r.targets[0]?.port === p)];
  assert.equal(byPort(1)?.closed, false, 'a pool whose route still has it stays');
  assert.equal(byPort(2)?.closed, true, 'a pool whose target left the table closes');
  assert.equal(byPort(3)?.closed, false, 'a pool another route still uses stays');
});
