import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import type { BuildOptions } from '../../src/routes/types.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';

const opts: BuildOptions = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 };

test('with the real route engine: detail log is the table dump, a syntax error keeps the table', () => {
  const store = new TableStore();
  const log = memoryLogger('INFO');
  const u = new TableUpdater({ store, log, build: (t) => buildTable(t, opts), routesFormat: 'detail', coalesceMs: 0 });
  u.update({
    text: 'route add a abc.com/ http://foo.com:1000\nroute add b /foo http://foo.com:900',
    cause: 'static',
    index: 0,
  });
  const t = store.current;
  assert.ok(t);
  assert.equal(log.lines[0], `[INFO] Updated config to\n${t.dump()}`);
  assert.ok(t.dump().includes('+-- host=abc.com'));
  u.update({ text: 'route add a abc.com/ http://foo.com:1000\nroute bogus', cause: 'kv', index: 3 });
  assert.equal(store.current, t);
  const last = u.history().at(-1);
  assert.match(last?.error ?? '', /^line 2: /);
  assert.match(log.lines.at(-1) ?? '', /^\[WARN\] line 2: /);
});
