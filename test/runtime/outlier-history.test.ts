import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { Balancer } from '../../src/proxy/outlier/balancer.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import type { Route, Target } from '../../src/routes/types.ts';
import { recordEjections } from '../../src/runtime/outlier-history.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';

/** The history records ejections and returns (issue #15), through the updater the UI reads. */

test('an ejection and its return are history entries; the listeners hear them', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const table = buildTable(
    'route add svc example.com/api http://10.0.0.1:80\nroute add svc example.com/api http://10.0.0.2:80',
    {
      matcher: 'prefix',
      strategy: 'rnd',
      globDisabled: false,
      globCacheSize: 10,
    },
  );
  const store = new TableStore();
  store.swap(table);
  const u = new TableUpdater({
    store,
    log: memoryLogger('INFO'),
    build: () => table,
    routesFormat: 'delta',
  });
  const heard: unknown[] = [];
  u.onChange((e) => heard.push(e.entry?.outlier?.event));
  let now = 0;
  const b = new Balancer({ failures: 1, ejectMs: 30_000, maxPercent: 50, p2c: false, now: () => now });
  const stop = recordEjections(
    b,
    (e) => u.note(e),
    () => new Date('2026-01-02T03:04:05.000Z'),
  );
  const r = table.routes[0] as Route;
  const target = r.targets[1] as Target;
  b.report(r, target, false);
  assert.deepEqual(u.history(), [
    {
      time: '2026-01-02T03:04:05.000Z',
      cause: 'outlier',
      index: 0,
      added: [],
      removed: [],
      outlier: {
        service: 'svc',
        url: 'http://10.0.0.2:80',
        route: 'example.com/api',
        event: 'ejected',
        seconds: 30,
        message: 'ejected http://10.0.0.2:80 of example.com/api for 30s',
      },
    },
  ]);
  t.mock.timers.tick(29_999);
  assert.equal(u.history().length, 1);
  t.mock.timers.tick(1);
  now += 30_000;
  assert.equal(u.history().length, 2);
  assert.deepEqual(u.history()[1]?.outlier, {
    service: 'svc',
    url: 'http://10.0.0.2:80',
    route: 'example.com/api',
    event: 'returned',
    message: 'returned http://10.0.0.2:80 of example.com/api',
  });
  // the trial fails: ejected again for twice as long
  b.report(r, target, false);
  assert.equal(u.history()[2]?.outlier?.message, 'ejected http://10.0.0.2:80 of example.com/api for 1m0s');
  assert.deepEqual(heard, ['ejected', 'returned', 'ejected']);
  // stopping drops the pending return
  stop();
  t.mock.timers.tick(60_000);
  assert.equal(u.history().length, 3);
  // a closed updater records nothing more
  u.close();
  u.note({ time: 'x', cause: 'outlier', index: 0, added: [], removed: [] });
  assert.equal(u.history().length, 3);
});
