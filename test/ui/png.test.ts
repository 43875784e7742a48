import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { comparePng, decodePng } from './png.ts';

/** The screenshot test's PNG reader: every row filter, RGB and RGBA, and what it refuses. */

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]); // CRC not checked
}

/** Encodes `px` (channels bytes a pixel) with row y filtered by filters[y % filters.length]. */
function encode(width: number, height: number, channels: 3 | 4, px: number[], filters: number[], depth = 8) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = channels === 4 ? 6 : 2;
  const stride = width * channels;
  const raw: number[] = [];
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length]!;
    raw.push(f);
    for (let i = 0; i < stride; i++) {
      const x = px[y * stride + i]!;
      const a = i >= channels ? px[y * stride + i - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels ? px[(y - 1) * stride + i - channels]! : 0;
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
      raw.push((x - pred) & 0xff);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(raw))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('decodePng', () => {
  for (const channels of [3, 4] as const) {
    test(`${channels === 4 ? 'RGBA' : 'RGB'}: filters none, sub, up, average and paeth`, () => {
      const w = 7;
      const h = 10;
      const px = Array.from({ length: w * h * channels }, (_, i) => (i * 37 + (i >> 3) * 101) & 0xff);
      const img = decodePng(encode(w, h, channels, px, [0, 1, 2, 3, 4]));
      assert.equal(img.width, w);
      assert.equal(img.height, h);
      for (let p = 0; p < w * h; p++)
        for (let k = 0; k < 4; k++)
          assert.equal(img.rgba[p * 4 + k], k < channels ? px[p * channels + k] : 255, `pixel ${p} channel ${k}`);
    });
  }

  test('refuses what it does not read', () => {
    assert.throws(() => decodePng(Buffer.from('GIF89a........')), /not a PNG/);
    assert.throws(() => decodePng(encode(1, 1, 3, [0, 0, 0, 0, 0, 0], [0], 16)), /unsupported PNG: depth 16/);
    assert.throws(() => decodePng(encode(2, 1, 3, [1, 2, 3, 4, 5, 6], [5])), /bad PNG filter 5/);
  });

  test('comparePng: tolerance, counted pixels, box, size mismatch', () => {
    const a = decodePng(encode(4, 3, 3, Array(36).fill(100), [0]));
    const bpx = Array(36).fill(100);
    bpx[(1 * 4 + 2) * 3] = 200; // pixel (2,1): far off
    bpx[(2 * 4 + 0) * 3 + 1] = 110; // pixel (0,2): within tolerance
    const b = decodePng(encode(4, 3, 3, bpx, [1]));
    assert.deepEqual(comparePng(a, b, 24), { pixels: 1, fraction: 1 / 12, box: { x0: 2, y0: 1, x1: 2, y1: 1 } });
    assert.deepEqual(comparePng(a, a), { pixels: 0, fraction: 0 });
    assert.equal(comparePng(a, decodePng(encode(3, 4, 3, Array(36).fill(100), [0]))).fraction, 1);
  });
});
