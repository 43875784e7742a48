import { randomFillSync } from 'node:crypto';

/**
 * fabio's request id: 36 characters `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case hex, NOT an
 * RFC 4122 UUID (no version nibble). Random bytes come from a refilled pool so a request costs no
 * syscall.
 */
const POOL = Buffer.allocUnsafe(16 * 512);
let offset = POOL.length;

export function requestId(): string {
  if (offset + 16 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const h = POOL.toString('hex', offset, offset + 16);
  offset += 16;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
