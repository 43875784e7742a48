import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configJson, loadConfig, propertiesExample, testConfig, usage } from '../../src/config/index.ts';
import { KEYS } from '../../src/config/keys.ts';

const root = new URL('../../', import.meta.url);

test('fabio.properties.example is the generator output (run npx tsx scripts/gen-properties-example.ts)', () => {
  assert.equal(readFileSync(new URL('fabio.properties.example', root), 'utf8'), propertiesExample());
});

test('the example lists every key with its default, and uncommented it loads as the defaults', () => {
  const text = propertiesExample();
  const lines = text.split('\n').filter((l) => /^# [a-z][A-Za-z0-9.]* =/.test(l));
  assert.deepEqual(
    lines.map((l) => l.slice(2).split(' =')[0]),
    KEYS.map((k) => k.name),
  );
  const file = lines.map((l) => l.slice(2)).join('\n');
  const c = loadConfig(['-cfg', '/example'], {}, { readFile: () => file });
  const d = loadConfig([], {});
  assert.deepEqual({ ...c.values, 'proxy.localip': '' }, { ...d.values, 'proxy.localip': '' });
  // fabio warns whenever the deprecated key is set, even to its empty default
  assert.deepEqual(c.warnings, ["proxy.log.routes has been deprecated. Please use 'log.routes.format' instead"]);
  // keys set in the file that fabio-ts does not implement are reported
  assert.deepEqual(
    c.unsupported,
    KEYS.filter((k) => !k.implemented && !k.ignored).map((k) => k.name),
  );
});

test('usage lists every key sorted, with Go flag layout', () => {
  const u = usage();
  for (const k of KEYS) assert.ok(u.includes(`  -${k.name}`), k.name);
  assert.ok(u.includes('  -proxy.addr string\n    \tListener list'));
  assert.ok(u.includes('(default ":9999")'));
  assert.ok(u.includes('  -insecure\n'));
});

test('configJson: fabio field names, durations in nanoseconds', () => {
  const c = testConfig({
    'proxy.addr': ':443;cs=a;tlsmin=tls12;tlsciphers="0xc02b",:80;rt=1s',
    'proxy.cs': 'cs=a;type=path;cert=/certs;hdr=X-A: b',
    'proxy.auth': 'name=n;type=basic;file=/h',
    'registry.consul.addr': 'https://Consul:8501',
    'registry.consul.register.tags': 'a, b',
  });
  // biome-ignore lint/suspicious/noExplicitAny: walks the nested Go-shaped JSON freely
  const j = configJson(c) as any;
  assert.equal(j.Proxy.Strategy, 'rnd');
  assert.equal(j.Proxy.DialTimeout, 30_000_000_000);
  assert.equal(j.Proxy.GZIPContentTypes, null);
  assert.deepEqual(j.Proxy.AuthSchemes, {
    n: { Name: 'n', Type: 'basic', Basic: { File: '/h', Realm: 'n', Refresh: 0 } },
  });
  assert.deepEqual(j.Registry.Consul.Addr, 'consul:8501');
  assert.deepEqual(j.Registry.Consul.Scheme, 'https');
  assert.deepEqual(j.Registry.Consul.ServiceTags, ['a', 'b']);
  assert.equal(j.Registry.Retry, 500_000_000);
  assert.equal(j.Listen.length, 2);
  assert.equal(j.Listen[0].Proto, 'https');
  assert.equal(j.Listen[0].TLSMinVersion, 0x0303);
  assert.deepEqual(j.Listen[0].TLSCiphers, ['0xc02b']);
  assert.equal(j.Listen[0].CertSource.Refresh, 3_000_000_000);
  assert.deepEqual(j.Listen[0].CertSource.Header, { 'X-A': ['b'] });
  assert.equal(j.Listen[1].ReadTimeout, 1_000_000_000);
  assert.equal(j.UI.Listen.Addr, ':9998');
  assert.deepEqual(j.Metrics.Prometheus.Buckets, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  assert.doesNotThrow(() => JSON.stringify(j));
});

test('configJson covers every key (listed keys are shown through Listen/AuthSchemes/CertSource instead)', () => {
  const src = readFileSync(new URL('src/config/config-json.ts', root), 'utf8');
  const indirect = new Set([
    'proxy.addr',
    'proxy.cs',
    'proxy.auth',
    'ui.addr',
    'proxy.readtimeout',
    'proxy.writetimeout',
    'proxy.log.routes',
    'aws.apigw.cert.cn',
    'bgp.peers',
  ]);
  const missing = KEYS.filter((k) => !indirect.has(k.name) && !src.includes(`'${k.name}'`)).map((k) => k.name);
  assert.deepEqual(missing, []);
});
