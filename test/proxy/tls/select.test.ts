import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoCertificatesError, nameIndex, selectCert } from '../../../src/proxy/tls/cert-store.ts';
import { cipherId, cipherIdOf, forwardedTls, opensslCiphers, tlsVersionName } from '../../../src/proxy/tls/ciphers.ts';
import { effectiveRefresh } from '../../../src/proxy/tls/create-store.ts';

type C = { id: string; names: string[] };
const foo: C = { id: 'foo', names: ['foo.com'] };
const bar: C = { id: 'bar', names: ['bar.com'] };
const wildBar: C = { id: 'wildbar', names: ['*.bar.com'] };
const deep: C = { id: 'deep', names: ['*.*.com'] };
const all: C = { id: 'all', names: ['*.*.*'] };

// Section (k) and fabio's cert/source_test.go cases.
const cases: { name: string; certs: C[]; sni: string; strict?: boolean; want: string | undefined | 'throw' }[] = [
  { name: 'no certs', certs: [], sni: 'foo.com', want: 'throw' },
  { name: 'no certs strict', certs: [], sni: 'foo.com', strict: true, want: 'throw' },
  { name: 'server name ends in dot', certs: [foo, bar], sni: 'bar.com.', want: 'bar' },
  { name: 'server name ends in many dots', certs: [foo, bar], sni: 'bar.com...', want: 'bar' },
  { name: 'upper-case server name', certs: [foo, bar], sni: 'BAR.com', want: 'bar' },
  { name: 'one cert exact match', certs: [foo], sni: 'foo.com', want: 'foo' },
  { name: 'one cert fallback', certs: [foo], sni: 'bar.com', want: 'foo' },
  { name: 'one cert strict match', certs: [foo], sni: 'bar.com', strict: true, want: undefined },
  { name: 'one cert strict exact', certs: [foo], sni: 'foo.com', strict: true, want: 'foo' },
  { name: 'two certs exact match', certs: [foo, bar], sni: 'bar.com', want: 'bar' },
  { name: 'two certs fallback to first', certs: [foo, bar], sni: 'baz.com', want: 'foo' },
  { name: 'two certs strict no match', certs: [foo, bar], sni: 'baz.com', strict: true, want: undefined },
  { name: 'wildcard match', certs: [foo, wildBar], sni: 'www.bar.com', want: 'wildbar' },
  { name: 'wildcard does not match apex', certs: [foo, wildBar], sni: 'bar.com', strict: true, want: undefined },
  { name: 'exact beats wildcard', certs: [wildBar, bar], sni: 'bar.com', want: 'bar' },
  { name: 'cumulative wildcard *.*.com', certs: [foo, deep], sni: 'a.b.com', want: 'deep' },
  { name: 'first wildcard wins over deeper', certs: [deep, wildBar], sni: 'x.bar.com', want: 'wildbar' },
  { name: 'all-label wildcard', certs: [foo, all], sni: 'a.b.c', want: 'all' },
  {
    name: 'wildcard only replaces leading labels',
    certs: [foo, { id: 'mid', names: ['a.*.com'] }],
    sni: 'a.b.com',
    strict: true,
    want: undefined,
  },
  { name: 'no SNI falls back to first', certs: [foo, bar], sni: '', want: 'foo' },
  { name: 'no SNI strict', certs: [foo, bar], sni: '', strict: true, want: undefined },
  {
    name: 'later certificate overwrites name (Go BuildNameToCertificate)',
    certs: [foo, { id: 'foo2', names: ['foo.com'] }],
    sni: 'foo.com',
    want: 'foo2',
  },
];

for (const c of cases) {
  test(`selectCert: ${c.name}`, () => {
    const idx = nameIndex(c.certs);
    if (c.want === 'throw') {
      assert.throws(
        () => selectCert(c.certs, idx, c.sni, !!c.strict),
        (e: Error) => e instanceof NoCertificatesError && e.message === 'cert: no certificates stored',
      );
      return;
    }
    assert.equal(selectCert(c.certs, idx, c.sni, !!c.strict)?.id, c.want);
  });
}

test('cipher names and ids', () => {
  assert.equal(cipherId('0xc02b'), 0xc02b);
  assert.equal(cipherId('49199'), 0xc02f);
  assert.equal(cipherId('tls_ecdhe_rsa_with_aes_128_gcm_sha256'), 0xc02f);
  assert.equal(cipherId('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305'), 0xcca8);
  assert.equal(cipherId('nope'), undefined);
  assert.equal(opensslCiphers([]), '');
  assert.equal(
    opensslCiphers(['0xc02b', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256']),
    'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256',
  );
  assert.equal(opensslCiphers(['0x1301', '0xc02f']), 'TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256');
  assert.throws(() => opensslCiphers(['bogus']), /invalid or unsupported cipher suite "bogus"/);
  assert.throws(() => opensslCiphers(['0xffff']), /unsupported cipher suite "0xffff"/);
});

test('tls version and cipher in fabio Forwarded form', () => {
  assert.equal(tlsVersionName('TLSv1.2'), 'tls12');
  assert.equal(tlsVersionName('TLSv1.3'), 'tls13');
  assert.equal(tlsVersionName('TLSv1'), 'tls10');
  assert.equal(
    cipherIdOf({ name: 'ECDHE-RSA-AES128-GCM-SHA256', standardName: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' }),
    0xc02f,
  );
  assert.equal(cipherIdOf({ name: 'TLS_AES_256_GCM_SHA384' }), 0x1302);
  assert.deepEqual(
    forwardedTls({
      getProtocol: () => 'TLSv1.3',
      getCipher: () => ({ name: 'TLS_AES_128_GCM_SHA256', standardName: 'TLS_AES_128_GCM_SHA256', version: 'TLSv1.3' }),
    }),
    { tlsver: 'tls13', tlscipher: '0x1301' },
  );
});

test('refresh minimum 1s, 0 = once', () => {
  assert.equal(effectiveRefresh(0), 0);
  assert.equal(effectiveRefresh(10), 1000);
  assert.equal(effectiveRefresh(3000), 3000);
});
