import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readClientHello } from '../../../src/proxy/tcp/client-hello.ts';
import { bigAlpn, captureHello, reframe } from './hello-capture.ts';

const REASONS = new Set(['need-more', 'not-tls', 'too-large', 'no-sni', 'malformed']);

test('ClientHello: SNI of real hellos, lower-cased, in one or several records', async () => {
  const small = await captureHello({ servername: 'Mixed.Example.COM' });
  const big = await captureHello({ servername: 'big.example.com', ALPNProtocols: bigAlpn(3000) });
  assert.ok(big.length > 3000, `big hello is ${big.length} bytes`);
  const cases: [string, Buffer, string][] = [
    ['one record', small, 'mixed.example.com'],
    ['two records', reframe(small, [100]), 'mixed.example.com'],
    ['records of 1 byte for the first 50', reframe(small, Array(50).fill(1)), 'mixed.example.com'],
    ['big hello, one record', big, 'big.example.com'],
    ['big hello, three records', reframe(big, [1000, 1000]), 'big.example.com'],
  ];
  for (const [name, bytes, sni] of cases) {
    const r = readClientHello(bytes);
    assert.deepEqual(r.ok && r.sni, sni, name);
    // bytes after the hello (the client's next records) do not disturb the reader
    const r2 = readClientHello(Buffer.concat([bytes, Buffer.from([0x17, 3, 3, 0, 1, 0])]));
    assert.deepEqual(r2.ok && r2.sni, sni, `${name} + trailing`);
    // every strict prefix asks for more
    for (let i = 0; i < bytes.length; i += i < 64 ? 1 : 13) {
      const p = readClientHello(bytes.subarray(0, i));
      assert.deepEqual(p, { ok: false, reason: 'need-more' }, `${name} prefix ${i}`);
    }
  }
});

test('ClientHello: failures are typed', async () => {
  const noSni = await captureHello({ host: '127.0.0.1' }); // Node sends no SNI for an IP address
  const big = await captureHello({ servername: 'big.example.com', ALPNProtocols: bigAlpn(3000) });
  const hello = await captureHello({ servername: 'a.example.com' });
  const badExtLen = Buffer.from(hello);
  // legacy_version(2) random(32) after the 9 header bytes, then session id
  let p = 9 + 34;
  p += 1 + badExtLen[p]!;
  p += 2 + badExtLen.readUInt16BE(p);
  p += 1 + badExtLen[p]!;
  badExtLen.writeUInt16BE(0xffff, p);
  const cases: [string, Buffer, number | undefined, string][] = [
    ['http request', Buffer.from('GET / HTTP/1.1\r\n\r\n'), undefined, 'not-tls'],
    ['ssl2/garbage version', Buffer.from([0x16, 0x02, 0x00, 0x00, 0x10]), undefined, 'not-tls'],
    ['application data record', Buffer.from([0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5]), undefined, 'not-tls'],
    ['server hello', Buffer.from([0x16, 3, 3, 0, 4, 2, 0, 0, 0]), undefined, 'not-tls'],
    ['zero-length record', Buffer.from([0x16, 3, 1, 0, 0]), undefined, 'malformed'],
    ['no SNI extension', noSni, undefined, 'no-sni'],
    ['oversized: announced length beyond the bound', big, 1024, 'too-large'],
    ['extensions length past the end', badExtLen, undefined, 'malformed'],
    [
      'second record not a handshake',
      Buffer.concat([reframe(hello, [40]).subarray(0, 45), Buffer.from([0x17, 3, 3, 0, 1, 0])]),
      undefined,
      'malformed',
    ],
  ];
  for (const [name, bytes, max, reason] of cases) {
    assert.deepEqual(readClientHello(bytes, max), { ok: false, reason }, name);
  }
});

test('ClientHello: never throws on random or mutated input (fuzz, 100k inputs)', async () => {
  const hello = await captureHello({ servername: 'fuzz.example.com' });
  const two = reframe(hello, [77]);
  const check = (b: Uint8Array) => {
    const r = readClientHello(b, 4096);
    assert.ok(r.ok ? typeof r.sni === 'string' && r.sni.length > 0 : REASONS.has(r.reason));
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => check(b)),
    { numRuns: 40_000 },
  );
  // random bytes behind a plausible record header reach the deeper parser
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 600 }), (b) => {
      const h = Buffer.from([
        0x16,
        3,
        1,
        b.length >> 8,
        b.length & 0xff,
        1,
        0,
        (b.length - 4) >> 8,
        (b.length - 4) & 0xff,
      ]);
      check(Buffer.concat([h, b]));
    }),
    { numRuns: 30_000 },
  );
  // real hellos with random byte mutations and truncations
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      (useTwo, muts, cut) => {
        const b = Buffer.from(useTwo ? two : hello);
        for (const [i, v] of muts) b[i % b.length] = v;
        check(b.subarray(0, b.length - (cut % 8 === 0 ? cut % b.length : 0)));
      },
    ),
    { numRuns: 30_000 },
  );
});
