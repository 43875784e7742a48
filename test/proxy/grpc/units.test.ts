// The pure helpers of the gRPC proxy, table-driven.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameMeter } from '../../../src/proxy/grpc/frame-meter.ts';
import { codeName, encodeMessage, parseStatus } from '../../../src/proxy/grpc/status.ts';
import { parseGrpcTimeout } from '../../../src/proxy/grpc/timeout.ts';

function msg(len: number): Buffer {
  const b = Buffer.alloc(5 + len, 1);
  b[0] = 0;
  b.writeUInt32BE(len, 1);
  return b;
}

/** Splits a buffer at the given offsets. */
function split(b: Buffer, at: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const a of at) {
    out.push(b.subarray(last, a));
    last = a;
  }
  out.push(b.subarray(last));
  return out;
}

const meterCases: { name: string; chunks: Buffer[]; max: number; want: number[] }[] = [
  { name: 'one message under the limit', chunks: [msg(10)], max: 10, want: [-1] },
  { name: 'one message over the limit', chunks: [msg(11)], max: 10, want: [11] },
  { name: 'empty messages', chunks: [Buffer.concat([msg(0), msg(0)])], max: 0, want: [-1] },
  {
    name: 'prefix split across chunks (byte by byte)',
    chunks: split(Buffer.concat([msg(3), msg(20)]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    max: 10,
    want: [-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 20],
  },
  {
    name: 'second message in the same chunk is over',
    chunks: [Buffer.concat([msg(2), msg(2), msg(200)])],
    max: 100,
    want: [200],
  },
  {
    name: 'length above 2^31 (no sign trouble)',
    chunks: [Buffer.from([0, 0xff, 0xff, 0xff, 0xff])],
    max: 4194304,
    want: [0xffffffff],
  },
  {
    name: 'body split across chunks, next prefix read correctly',
    chunks: split(Buffer.concat([msg(100), msg(5)]), [50, 105, 107]),
    max: 100,
    want: [-1, -1, -1, -1],
  },
];
for (const c of meterCases) {
  test(`FrameMeter: ${c.name}`, () => {
    const m = new FrameMeter(c.max);
    assert.deepEqual(
      c.chunks.map((ch) => m.push(ch)),
      c.want,
    );
  });
}

const timeoutCases: [string | undefined, number | undefined][] = [
  ['1S', 1000],
  ['100m', 100],
  ['2M', 120_000],
  ['1H', 3_600_000],
  ['1500u', 2],
  ['1n', 1],
  ['99999999m', 99_999_999],
  ['123456789m', undefined],
  ['10', undefined],
  ['-1S', undefined],
  ['1s', undefined],
  [undefined, undefined],
];
for (const [v, want] of timeoutCases) {
  test(`parseGrpcTimeout(${v})`, () => assert.equal(parseGrpcTimeout(v), want));
}

test('codeName uses Go spelling; parseStatus; encodeMessage percent-encodes', () => {
  assert.equal(codeName(0), 'OK');
  assert.equal(codeName(1), 'Canceled');
  assert.equal(codeName(5), 'NotFound');
  assert.equal(codeName(16), 'Unauthenticated');
  assert.equal(codeName(42), 'Code(42)');
  assert.equal(parseStatus('5'), 5);
  assert.equal(parseStatus(undefined), 2);
  assert.equal(parseStatus('x'), 2);
  assert.equal(encodeMessage('no route found'), 'no route found');
  assert.equal(encodeMessage('50% ü\n'), '50%25 %C3%BC%0A');
});
