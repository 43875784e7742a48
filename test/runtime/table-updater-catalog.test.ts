import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulBackend, type ConsulBackendOptions } from '../../src/registry/consul/backend.ts';
import { startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import { buildTable, TableStore } from '../../src/routes/index.ts';
import type { BuildOptions, Table } from '../../src/routes/types.ts';
import { TableUpdater } from '../../src/runtime/table-updater.ts';
import { until } from '../registry/fake-consul.ts';

/**
 * Issue #12 items 5, 6 and 8 end to end: the embedded Consul-compatible catalog over real HTTP,
 * the production Consul backend, the table updater and real builds. One bad KV line must not
 * freeze the table; tag warnings follow the catalog even when the route text does not change;
 * each skipped tag is logged once.
 */

const BUILD: BuildOptions = {
  matcher: 'prefix',
  strategy: 'rnd',
  globDisabled: false,
  globCacheSize: 100,
  skipBadLines: true,
};

async function put(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'PUT', body });
  await res.text();
  assert.equal(res.status, 200, `PUT ${url}`);
}

const routed = (store: TableStore, path: string): string | undefined =>
  store.current?.lookup({ host: 'h', path, tls: false })?.target.service;

async function start(t: TestContext, watchMode: 'state' | 'service') {
  const cat = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  t.after(() => cat.close());
  const log = memoryLogger('INFO');
  const opts: ConsulBackendOptions = {
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
    watchMode,
  };
  const backend = new ConsulBackend(opts, log);
  t.after(() => backend.stop());
  const store = new TableStore();
  const updater = new TableUpdater({
    store,
    log,
    build: (text: string, prev: Table | undefined) => buildTable(text, BUILD, prev),
    routesFormat: 'delta',
    coalesceMs: 0,
  });
  t.after(() => updater.close());
  await backend.connect();
  backend.watch({ routes: (u) => updater.update(u), noRouteHtml: () => {} });
  const register = (id: string, tags: string[]) =>
    put(
      `${cat.url}/v1/agent/service/register`,
      JSON.stringify({
        ID: id,
        Name: id,
        Address: '10.0.0.1',
        Port: 8080,
        Tags: tags,
        Check: { TTL: '30s', Status: 'passing' },
      }),
    );
  const deregister = (id: string) => put(`${cat.url}/v1/agent/service/deregister/${id}`, '');

  return { store, updater, log, register, deregister, url: cat.url };
}

for (const watchMode of ['state', 'service'] as const) {
  test(`bad KV line, tag warnings and deregistration through the catalog (registry.consul.watch=${watchMode})`, async (t) => {
    const { store, updater, log, register, deregister, url } = await start(t, watchMode);
    await register('old', ['urlprefix-/old']);
    await until(() => routed(store, '/old') === 'old', 5000, 'old routed');

    // one bad line in the KV overrides, with a good one after it
    await put(`${url}/v1/kv/fabio/config`, 'route add k1 /k1 http://127.0.0.1:abc/\nroute add k2 /k2 http://10.0.0.2/');
    await until(() => routed(store, '/k2') === 'k2', 5000, 'the good KV line applied');
    const w = store.current?.warnings.find((x) => x.message.includes('KV key fabio/config line 1'));
    assert.ok(w, JSON.stringify(store.current?.warnings));
    assert.match(w.message, /route: invalid target/);

    // the table still follows the catalog
    await register('new', ['urlprefix-/new']);
    await until(() => routed(store, '/new') === 'new', 5000, 'new service routed despite the bad KV line');
    await deregister('old');
    await until(() => routed(store, '/old') === undefined || undefined, 5000, 'deregistered service removed');
    assert.equal(routed(store, '/k1'), undefined);

    // a service whose only tag is skipped adds no route line: the text does not change
    const before = store.current;
    await register('typo', ['urlprefix-/typo proto=htttp']);
    await until(
      () => updater.warnings().tags.some((x) => x.service === 'typo') || undefined,
      5000,
      'tag warning shown',
    );
    assert.equal(store.current, before, 'no rebuild for a warning-only change');
    assert.match(updater.warnings().tags[0]?.message ?? '', /unknown proto="htttp"/);
    await deregister('typo');
    await until(() => updater.warnings().tags.length === 0 || undefined, 5000, 'tag warning gone with its service');
    assert.equal(log.lines.filter((l) => l.includes('Skipping tag')).length, 1, log.lines.join('\n'));
  });

  test(`a skipped tag is logged once, not again by the Consul watch or on later changes (registry.consul.watch=${watchMode})`, async (t) => {
    const { store, log, register } = await start(t, watchMode);
    await register('mixed', ['urlprefix-/ok', 'urlprefix-/x opt="y"']);
    await until(() => routed(store, '/ok') === 'mixed', 5000, 'mixed routed');
    await register('other', ['urlprefix-/other']);
    await until(() => routed(store, '/other') === 'other', 5000, 'other routed');
    assert.deepEqual(
      log.lines.filter((l) => l.includes('Skipping tag')),
      [
        '[WARN] Skipping tag "urlprefix-/x opt=\\"y\\"" of service "mixed": route tag contains a quote or control character; tag skipped',
      ],
    );
  });
}
