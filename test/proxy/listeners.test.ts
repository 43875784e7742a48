import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testConfig } from '../../src/config/index.ts';
import { memoryLogger } from '../../src/log/logger.ts';
import { noopMetrics } from '../../src/metrics/types.ts';
import { startListeners } from '../../src/proxy/listeners.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';

test('startListeners dispatches by proto, grpc included', async (t) => {
  const cfg = testConfig({
    'proxy.addr': '127.0.0.1:0,127.0.0.1:0;proto=tcp,127.0.0.1:0;proto=grpc,127.0.0.1:0;proto=prometheus',
  });
  const store = new TableStore();
  store.swap(buildTable('', { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 }));
  const log = memoryLogger('INFO');
  const ls = await startListeners({
    cfg,
    store,
    log,
    metrics: noopMetrics,
    noRouteHtml: () => '',
    accessLog: undefined,
    prometheus: async () => ({ contentType: 'text/plain', body: '' }),
  });
  t.after(() => Promise.all(ls.map((l) => l.close(0))));
  assert.deepEqual(
    ls.map((l) => l.spec.proto),
    ['http', 'tcp', 'grpc', 'prometheus'],
  );
  for (const l of ls) assert.ok(l.port > 0);
  assert.ok(log.lines.includes('[INFO] GRPC proxy listening on 127.0.0.1:0'), log.lines.join('\n'));
  assert.ok(log.lines.includes('[INFO] HTTP proxy listening on 127.0.0.1:0'));
});

test('startListeners closes what it started when one listener fails', async (t) => {
  const { createServer } = await import('node:net');
  const blocker = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const cfg = testConfig({ 'proxy.addr': `127.0.0.1:0,127.0.0.1:${port}` });
  const store = new TableStore();
  await assert.rejects(
    startListeners({
      cfg,
      store,
      log: memoryLogger(),
      metrics: noopMetrics,
      noRouteHtml: () => '',
      accessLog: undefined,
    }),
    /EADDRINUSE/,
  );
});
