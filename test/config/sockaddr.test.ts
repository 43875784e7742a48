import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { renderSockaddr } from '../../src/config/sockaddr.ts';
import { type Interfaces, localIP } from '../../src/go/local-ip.ts';

const nic = (address: string, internal = false) => ({
  address,
  netmask: '255.0.0.0',
  family: 'IPv4' as const,
  mac: '00:00:00:00:00:00',
  internal,
  cidr: `${address}/8`,
});
const ifs: Interfaces = {
  lo: [nic('127.0.0.1', true)],
  eth0: [nic('203.0.113.7')],
  eth1: [nic('10.1.2.3')],
  docker0: [nic('172.17.0.1')],
};

test('go-sockaddr templates', () => {
  const cases: [string, string][] = [
    [':9999', ':9999'],
    ['{{ GetPrivateIP }}:9999', '10.1.2.3:9999'],
    ['{{GetPublicIP}}:1', '203.0.113.7:1'],
    ['{{ GetInterfaceIP "docker0" }}:2', '172.17.0.1:2'],
  ];
  for (const [s, want] of cases) assert.equal(renderSockaddr(s, ifs), want, s);
  assert.throws(() => renderSockaddr('{{ GetAllInterfaces | include "flags" "up" }}', ifs), /supports only/);
  assert.throws(() => renderSockaddr('{{ GetInterfaceIP "wlan9" }}:1', ifs), /no IP of interface wlan9 found/);
  assert.throws(() => renderSockaddr('{{ GetPrivateIP }}', { lo: [nic('127.0.0.1', true)] }), /no private IP found/);
});

test('localIP: first non-loopback IPv4', () => {
  assert.equal(localIP(ifs), '203.0.113.7');
  assert.equal(localIP({ lo: [nic('127.0.0.1', true)] }), '');
});

test('registry.consul.register.addr defaults to ui.addr', () => {
  assert.equal(loadConfig(['-ui.addr=127.0.0.1:9000'], {}).str('registry.consul.register.addr'), '127.0.0.1:9000');
  assert.equal(
    loadConfig(['-ui.addr=:9000', '-registry.consul.register.addr=1.2.3.4:1'], {}).str('registry.consul.register.addr'),
    '1.2.3.4:1',
  );
});
