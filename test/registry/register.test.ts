import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { ConsulClient } from '../../src/registry/consul/client.ts';
import {
  goDuration,
  type RegistrationOptions,
  SelfRegistration,
  servicePayload,
  splitRegisterAddr,
} from '../../src/registry/consul/register.ts';
import { FakeConsul, until } from './fake-consul.ts';

const opts: RegistrationOptions = {
  name: 'fabio',
  addr: '10.1.2.3:9998',
  defaultPort: 9998,
  tags: ['lb', 'edge'],
  namespace: '',
  checkIntervalMs: 1000,
  checkTimeoutMs: 3000,
  checkTLSSkipVerify: false,
  https: false,
  hostname: 'host1',
};

test('payload exactly as fabio sends it', () => {
  assert.deepEqual(servicePayload('fabio', opts), {
    ID: 'fabio-host1-9998',
    Name: 'fabio',
    Address: '10.1.2.3',
    Port: 9998,
    Tags: ['lb', 'edge'],
    Checks: [
      { CheckID: 'fabio-host1-9998-ttl', TTL: '15s', DeregisterCriticalServiceAfter: '1m0s' },
      { HTTP: 'http://10.1.2.3:9998/health', Interval: '1s', Timeout: '3s', TLSSkipVerify: false },
    ],
  });
});

test('payload variants: https check, IPv6 bracketed, namespace, auto IP for a name, default port', () => {
  const p6 = servicePayload('fabio', {
    ...opts,
    addr: '[::1]:9000',
    https: true,
    namespace: 'ns1',
    checkTLSSkipVerify: true,
  });
  assert.equal(p6.Address, '::1');
  assert.equal(p6.Namespace, 'ns1');
  assert.deepEqual(p6.Checks[1], {
    HTTP: 'https://[::1]:9000/health',
    Interval: '1s',
    Timeout: '3s',
    TLSSkipVerify: true,
  });
  const auto = servicePayload('alias', { ...opts, addr: 'myhost:7000' }, '192.168.1.9');
  assert.equal(auto.Address, '192.168.1.9');
  assert.equal(auto.ID, 'alias-host1-7000');
  assert.equal(servicePayload('fabio', { ...opts, addr: '' }, '192.168.1.9').Port, 9998);
});

test('splitRegisterAddr keeps its lenient split (no port → default port; anything not an IP literal → no host)', () => {
  const cases: [string, string, number][] = [
    ['', '', 7],
    [':9998', '', 9998],
    ['1.2.3.4', '1.2.3.4', 7],
    ['1.2.3.4:80', '1.2.3.4', 80],
    ['1.2.3.4:0080', '1.2.3.4', 80],
    ['1.2.3.4:99999', '1.2.3.4', 99999],
    ['1.2.3.4:', '', 7],
    ['1.2.3.4:abc', '', 7],
    ['1.2.3.4:+80', '', 7],
    ['1.2.3.4:80:90', '', 7],
    ['myhost:80', '', 80],
    ['myhost', '', 7],
    ['[fe80::1]', 'fe80::1', 7],
    ['[fe80::1]:80', 'fe80::1', 80],
    ['[1.2.3.4]:80', '1.2.3.4', 80],
    ['[::1]:', '', 7],
    ['[::1]:80:90', '', 7],
    ['[::1]x:80', '', 7],
    ['[::1', '', 7],
    ['::1', '', 7],
    ['fe80::1:80', '', 7],
    ['[]:80', '', 80],
    ['[[::1]]:80', '', 7],
    // a stray bracket in a host Go would refuse: before go/host-port.ts the port after it was taken
    ['a]b:80', '', 7],
    ['[:80', '', 7],
  ];
  for (const [addr, host, port] of cases)
    assert.deepEqual(splitRegisterAddr(addr, 7), { host, port }, JSON.stringify(addr));
});

test('splitRegisterAddr and goDuration tables', () => {
  assert.deepEqual(splitRegisterAddr(':9998', 1), { host: '', port: 9998 });
  assert.deepEqual(splitRegisterAddr('1.2.3.4', 5), { host: '1.2.3.4', port: 5 });
  assert.deepEqual(splitRegisterAddr('[fe80::1]:80', 5), { host: 'fe80::1', port: 80 });
  const d: [number, string][] = [
    [0, '0s'],
    [500, '500ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [60_000, '1m0s'],
    [90_000, '1m30s'],
    [3_600_000, '1h0m0s'],
  ];
  for (const [ms, s] of d) assert.equal(goDuration(ms), s);
});

test('registers, updates the TTL, re-registers when the agent lost it, syncs aliases, deregisters', async (t) => {
  const fake = new FakeConsul();
  await fake.start();
  const client = new ConsulClient({
    addr: fake.url,
    token: '',
    namespace: '',
    consistency: 'consistent',
    connections: 4,
  });
  const log = memoryLogger();
  // The refresh interval runs on node:test's mock clock: each period is one tick(30), so the test
  // both drives the updates and proves, after deregistration, that periods pass without a call.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const calls = t.mock.method(client, 'get');
  const reg = new SelfRegistration(client, { ...opts, refreshMs: 30 }, log);
  t.after(async () => {
    await reg.deregisterAll();
    await client.close();
    await fake.close();
  });
  await reg.sync([]);
  assert.deepEqual([...fake.agentServices.keys()], ['fabio-host1-9998']);
  assert.ok(log.lines.includes('[INFO] consul: Registered fabio as "fabio"'));
  const ttl = fake.requests.filter((r) => r.path === '/v1/agent/check/update/fabio-host1-9998-ttl');
  assert.ok(ttl.length >= 1, 'TTL updated immediately');
  assert.deepEqual(JSON.parse(ttl[0]?.body ?? ''), { Status: 'passing', Output: '' });
  assert.equal(ttl[0]?.method, 'PUT');
  for (const n of [2, 3]) {
    t.mock.timers.tick(30);
    await until(() => fake.count('/v1/agent/check/update/') >= n, 3000, `periodic TTL update ${n}`);
  }
  // The agent forgets the service (restart): it is registered again.
  fake.agentServices.clear();
  t.mock.timers.tick(30);
  await until(() => fake.agentServices.has('fabio-host1-9998') || undefined, 3000, 're-registration');
  await reg.sync(['api-gw']);
  assert.deepEqual([...fake.agentServices.keys()].sort(), ['api-gw-host1-9998', 'fabio-host1-9998']);
  await reg.sync([]);
  assert.deepEqual([...fake.agentServices.keys()], ['fabio-host1-9998']);
  assert.ok(log.lines.includes('[INFO] consul: Deregistered fabio as "api-gw"'));
  await reg.deregisterAll();
  assert.equal(fake.agentServices.size, 0);
  // A period's first act is listing the agent's services (client.get); it starts within the
  // microtasks after the tick, so one setImmediate later it has either been called or never will.
  const settle = () => new Promise((r) => setImmediate(r));
  const listed = calls.mock.callCount();
  t.mock.timers.tick(300);
  await settle();
  assert.equal(calls.mock.callCount(), listed, 'ten refresh periods after deregistration: no call');
  // the same observation sees a period while registered (control)
  await reg.sync([]);
  const before = calls.mock.callCount();
  t.mock.timers.tick(30);
  await settle();
  assert.equal(calls.mock.callCount(), before + 1, 'a refresh period lists the agent services');
});
