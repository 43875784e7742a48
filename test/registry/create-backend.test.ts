import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testConfig } from '../../src/config/index.ts';
import { memoryLogger } from '../../src/log/logger.ts';
import { consulBackendOptions } from '../../src/registry/consul/backend.ts';
import { ConsulBackend, CustomBackend, createBackend, FileBackend, StaticBackend } from '../../src/registry/index.ts';

test('createBackend picks the backend named by registry.backend', async () => {
  const cases: [string, Record<string, string | boolean>, unknown][] = [
    ['consul', {}, ConsulBackend],
    ['static', { 'registry.static.routes': 'route add a /a http://a:1/' }, StaticBackend],
    ['file', { 'registry.file.path': '/nonexistent' }, FileBackend],
    ['custom', { 'registry.custom.host': 'h:1', 'registry.custom.path': 'p' }, CustomBackend],
  ];
  for (const [name, extra, cls] of cases) {
    const b = createBackend(testConfig({ 'registry.backend': name, ...extra }), memoryLogger());
    assert.ok(b instanceof (cls as new (...a: never[]) => unknown), name);
    await b.stop();
  }
});

test("unknown backend: fabio's message (main adds [FATAL])", () => {
  const cfg = testConfig({});
  const bad = { ...cfg, str: (k: string) => (k === 'registry.backend' ? 'etcd' : cfg.str(k)) };
  assert.throws(() => createBackend(bad, memoryLogger()), { message: 'Unknown registry backend etcd' });
});

test('Consul options from the config keys', () => {
  const o = consulBackendOptions(
    testConfig({
      'registry.consul.addr': 'https://Consul.example:8501/ignored',
      'registry.consul.token': 't',
      'registry.consul.service.status': 'passing, warning',
      'registry.consul.checksRequired': 'all',
      'registry.consul.serviceMonitors': 0,
      'registry.consul.allowStale': true,
      'registry.consul.requireConsistent': false,
      'registry.consul.register.tags': 'a, b,,',
      'registry.consul.register.checkInterval': '2s',
      'ui.addr': ':9000',
    }),
  );
  assert.deepEqual(o.status, ['passing', 'warning']);
  assert.equal(o.checksRequired, 'all');
  assert.equal(o.monitors, 1);
  assert.equal(o.client.consistency, 'stale');
  assert.equal(o.client.token, 't');
  assert.deepEqual(o.register?.tags, ['a', 'b']);
  assert.equal(o.register?.checkIntervalMs, 2000);
  assert.equal(o.register?.defaultPort, 9000);
  assert.equal(o.timeoutMs, 10_000);
  assert.equal(o.retryMs, 500);
  const b = new ConsulBackend(o, memoryLogger());
  assert.equal(b.client.scheme, 'https');
  assert.equal(b.client.hostPort, 'consul.example:8501');
  void b.stop();
  assert.equal(consulBackendOptions(testConfig({ 'registry.consul.register.enabled': false })).register, undefined);
});
