import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAuthSchemes, parseCertSources } from '../../src/config/sources.ts';

test('parseCertSources: types, refresh defaults, header', () => {
  const cs = parseCertSources(
    'cs=a;type=file;cert=/c.pem;key=/k.pem;clientca=/ca.pem;refresh=10s,' +
      'cs=b;type=path;cert=/certs;hdr=X-Token: abc;caupgcn=AWS,' +
      'cs=c;type=consul;cert=http://localhost:8500/v1/kv/certs?token=t;refresh=1s,' +
      'cs=d;type=vault;cert=secret/certs;vaultfetchtoken=env:VT,' +
      'cs=e;type=http;cert=https://h/list;refresh=1m',
  );
  assert.deepEqual([...cs.keys()], ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(cs.get('a'), {
    name: 'a',
    type: 'file',
    cert: '/c.pem',
    key: '/k.pem',
    clientCA: '/ca.pem',
    caUpgCN: '',
    refresh: 0,
    header: {},
    vaultFetchToken: '',
  });
  assert.equal(cs.get('b')?.refresh, 3000);
  assert.deepEqual(cs.get('b')?.header, { 'X-Token': 'abc' });
  assert.equal(cs.get('b')?.caUpgCN, 'AWS');
  assert.equal(cs.get('c')?.refresh, 0, 'consul forces 0');
  assert.equal(cs.get('d')?.vaultFetchToken, 'env:VT');
  assert.equal(cs.get('e')?.refresh, 60000);
});

test('parseCertSources: fabio error messages', () => {
  const cases: [string, string][] = [
    ['type=file;cert=/c.pem', "missing 'cs' in map[cert:/c.pem type:file]"],
    ['cs=a;type=path;path=/certs', "missing 'cert' in map[cs:a path:/certs type:path]"],
    ['cs=a;cert=/c.pem', "missing 'type' in map[cert:/c.pem cs:a]"],
    ['cs=a;type=s3;cert=x', 'unknown cert source type s3'],
    ['cs=a;type=file;cert=x;hdr=NoColon', 'invalid header NoColon'],
    ['cs=a;type=path;cert=x;refresh=soon', 'time: invalid duration "soon"'],
  ];
  for (const [v, msg] of cases) assert.throws(() => parseCertSources(v), { name: 'ConfigError', message: msg }, v);
});

test('parseAuthSchemes', () => {
  const as = parseAuthSchemes(
    'name=mybasic;type=basic;file=/etc/htpasswd,name=b2;type=basic;file=/x;realm=R;refresh=100ms',
  );
  assert.deepEqual(as.get('mybasic'), {
    name: 'mybasic',
    type: 'basic',
    file: '/etc/htpasswd',
    realm: 'mybasic',
    refresh: 0,
  });
  assert.deepEqual(as.get('b2'), { name: 'b2', type: 'basic', file: '/x', realm: 'R', refresh: 1000 });
  assert.equal(parseAuthSchemes('').size, 0);
});

test('parseAuthSchemes: fabio error messages', () => {
  const cases: [string, string][] = [
    ['type=basic;file=/x', "missing 'name' in auth"],
    ['name=a;file=/x', "missing 'type' in auth 'a'"],
    ['name=a;type=basic', "missing 'file' in auth 'a'"],
    ['name=a;type=digest;file=/x', "unknown auth type 'digest'"],
  ];
  for (const [v, msg] of cases) assert.throws(() => parseAuthSchemes(v), { name: 'ConfigError', message: msg }, v);
});
