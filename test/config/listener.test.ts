import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseListener, parseListeners, parseTLSVersion } from '../../src/config/listener.ts';
import { parseCertSources } from '../../src/config/sources.ts';

const certSources = parseCertSources(
  'cs=some-name;type=file;cert=/c.pem,cs=consul-cs;type=consul;cert=http://localhost:8500/v1/kv/certs,cs=pki;type=vault-pki;cert=pki/issue/r',
);
const d = { certSources, readTimeout: 1000, writeTimeout: 2000 };

test('parseListener: the examples of section (d)', () => {
  const cases: [string, Record<string, unknown>][] = [
    [':9999', { addr: ':9999', host: '', port: 9999, proto: 'http', readTimeout: 1000, writeTimeout: 2000 }],
    ['1.2.3.4:9999;rt=3s', { host: '1.2.3.4', port: 9999, proto: 'http', readTimeout: 3000, writeTimeout: 2000 }],
    ['[2001:DB8::A]:9999;wt=5s', { host: '2001:DB8::A', port: 9999, writeTimeout: 5000 }],
    [
      ':443;cs=some-name;tlsmin=tls12;tlsciphers="0xc02b,0xc02f";strictmatch=true',
      { proto: 'https', cs: 'some-name', tlsMin: 'TLSv1.2', tlsCiphers: ['0xc02b', '0xc02f'], strictMatch: true },
    ],
    [':1234;proto=tcp', { proto: 'tcp', port: 1234 }],
    [
      ':443;proto=tcp+sni;pxyproto=true;pxytimeout=500ms',
      { proto: 'tcp+sni', proxyProto: true, proxyProtoTimeout: 500 },
    ],
    [':443;proto=tcp+sni;pxyproto=true', { proxyProto: true, proxyProtoTimeout: 250 }],
    [':443;proto=tcp+sni;pxyproto=TRUE', { proxyProto: false, proxyProtoTimeout: 0 }],
    [':443;cs=some-name;strictmatch=1', { strictMatch: false }],
    [':443;proto=https+tcp+sni;cs=some-name', { proto: 'https+tcp+sni', cs: 'some-name' }],
    ['0.0.0.0:0;proto=tcp-dynamic;refresh=5s', { proto: 'tcp-dynamic', port: 0, refresh: 5000 }],
    [':8888;proto=grpcs;cs=some-name', { proto: 'grpcs' }],
    [':9090;proto=prometheus', { proto: 'prometheus' }],
    [':9090;proto=prometheus;cs=some-name', { proto: 'prometheus', cs: 'some-name' }],
    [':1;proto=tcp;cs=some-name', { proto: 'tcp', cs: 'some-name' }],
    ['addr=:1;it=30s;tlsmax=tls13', { port: 1, idleTimeout: 30000, tlsMax: 'TLSv1.3' }],
    [':443;cs=pki', { strictMatch: true }],
    [':1;unknownopt=x', { port: 1 }],
  ];
  for (const [entry, want] of cases) {
    const l = parseListener(entry, d) as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(want)) assert.deepEqual(l[k], v, `${entry}: ${k}`);
  }
});

test('parseListeners: mixed list', () => {
  const ls = parseListeners(':443;cs=consul-cs,:80,:2375;proto=tcp+sni', d);
  assert.deepEqual(
    ls.map((l) => [l.addr, l.proto]),
    [
      [':443', 'https'],
      [':80', 'http'],
      [':2375', 'tcp+sni'],
    ],
  );
});

test('parseListener: fabio error messages', () => {
  const cases: [string, string][] = [
    [';proto=http', 'need listening host:port'],
    [':1;proto=udp', 'unknown protocol "udp"'],
    [':1;cs=nope', 'unknown certificate source "nope"'],
    [
      ':1;proto=http;cs=some-name',
      "cert source requires proto 'https', 'tcp', 'tcp-dynamic', 'https+tcp+sni', 'prometheus', or 'grpcs'",
    ],
    [':1;proto=https', "proto 'https' requires cert source"],
    [':1;proto=grpcs', "proto 'grpcs' requires cert source"],
    [':1;rt=3', 'time: missing unit in duration "3"'],
    [':1;tlsmin=ssl30', 'strconv.ParseUint: parsing "ssl30": invalid syntax'],
    ['9999', 'address 9999: missing port in address'],
    ['::1:9999', 'address ::1:9999: too many colons in address'],
    [':99999', 'address :99999: invalid port'],
    // Go's net.SplitHostPort rejects stray brackets (src/go/host-port.ts; before, these bound or said "invalid port")
    ['foo]bar:80', "address foo]bar:80: unexpected ']' in address"],
    ['[::1]:[80]', "address [::1]:[80]: unexpected '[' in address"],
    ['[::1]:80:81', 'address [::1]:80:81: too many colons in address'],
  ];
  for (const [entry, msg] of cases)
    assert.throws(() => parseListener(entry, d), { name: 'ConfigError', message: msg }, entry);
});

test('parseTLSVersion', () => {
  const ok: [string, string][] = [
    ['tls10', 'TLSv1'],
    ['TLS11', 'TLSv1.1'],
    [' tls12 ', 'TLSv1.2'],
    ['tls13', 'TLSv1.3'],
    ['0x0303', 'TLSv1.2'],
    ['771', 'TLSv1.2'],
    ['772', 'TLSv1.3'],
    ['10', 'TLSv1'],
    ['12', 'TLSv1.2'],
  ];
  for (const [s, v] of ok) assert.equal(parseTLSVersion(s), v, s);
  assert.throws(() => parseTLSVersion('70000'), { message: '70000 out of range: [0..65535]' });
  assert.throws(() => parseTLSVersion('5'), { message: 'unsupported tls version 5' });
});
