import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend } from '../../src/registry/consul/backend.ts';
import { startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import { buildTable, TableStore } from '../../src/routes/index.ts';
import type { Table } from '../../src/routes/types.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';
import { startAdmin } from '../../src/ui/index.ts';
import { until } from '../registry/fake-consul.ts';
import { BUILD, fakeConfig } from './helpers.ts';

/**
 * DNS rebinding against the whole write path: admin server → Consul KV (embedded catalog, real
 * HTTP) → Consul watch → table updater → live table. A rebinding page's PUT is refused and its
 * route never goes live; the same PUT with this server's Host does (so the test can fail).
 */

function put(port: number, host: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/api/manual',
        setHost: false,
        headers: { host, origin: `http://${host}`, 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('a DNS-rebinding PUT is refused and changes nothing; the same PUT with our Host goes live', async (t) => {
  const cat = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => cat.close());
  const log = memoryLogger('INFO');
  const backend = new ConsulBackend(
    {
      client: { addr: cat.url, token: '', namespace: '', consistency: 'consistent', connections: 4 },
      retryMs: 20,
      timeoutMs: 2000,
      kvpath: '/fabio/config',
      noroutePath: '/fabio/noroute.html',
      tagPrefix: 'urlprefix-',
      status: ['passing'],
      checksRequired: 'one',
      monitors: 1,
      pollIntervalMs: 0,
      register: undefined,
      blocking: { retryMs: 50, maxRetryMs: 100, waitMs: 60_000 },
    },
    log,
  );
  t.after(() => backend.stop());
  const store = new TableStore();
  const updater = new TableUpdater({
    store,
    log,
    build: (text: string, prev: Table | undefined) => buildTable(text, { ...BUILD, skipBadLines: true }, prev),
    routesFormat: 'delta',
    coalesceMs: 0,
  });
  t.after(() => updater.close());
  await backend.connect();
  backend.watch({ routes: (u) => updater.update(u), noRouteHtml: () => {} });
  await updater.firstTable;
  const admin = await startAdmin({ cfg: fakeConfig(), store, log, version: 'test', updater, manual: backend.manual });
  t.after(() => admin.close(0));
  const port = admin.port;
  const seen: string[] = [];
  updater.onChange(() => seen.push(store.current?.print() ?? ''));

  const evil = JSON.stringify({ value: 'route add evil /evil http://10.6.6.6/', version: '0' });
  assert.equal(await put(port, `evil.example:${port}`, evil), 403);
  assert.equal((await backend.manual.get('')).value, '');

  const ours = JSON.stringify({ value: 'route add ours /ours http://10.0.0.1/', version: '0' });
  assert.equal(await put(port, `127.0.0.1:${port}`, ours), 200);
  await until(() => store.current?.lookup({ host: 'h', path: '/ours', tls: false }) !== undefined || undefined, 5000);
  assert.equal(store.current?.lookup({ host: 'h', path: '/evil', tls: false }), undefined);
  assert.ok(!seen.some((p) => p.includes('evil')), seen.join('\n'));
});
