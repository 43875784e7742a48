/**
 * A pure TLS ClientHello reader for SNI routing. Node has no MSG_PEEK, so the listener buffers the
 * first bytes of a connection and asks this reader, after every chunk, whether the whole ClientHello
 * handshake message is present yet. A ClientHello may span several TCP segments and several TLS
 * records (post-quantum key shares push it well past one segment), so records are walked and their
 * handshake fragments joined until the message length announced in the handshake header is covered.
 *
 * Allocation-lean: failures are shared constant objects; the common case (the message fits in the
 * first record) parses in place; only a multi-record hello is copied once into one buffer.
 */

export type HelloFailure = 'need-more' | 'not-tls' | 'too-large' | 'no-sni' | 'malformed';

export type HelloResult =
  | {
      readonly ok: true;
      readonly sni: string /** bytes of the records that carried the hello */;
      readonly length: number;
    }
  | { readonly ok: false; readonly reason: HelloFailure };

/** Default bound on the bytes buffered while looking for the ClientHello. */
export const MAX_HELLO_BYTES = 64 * 1024;

const REC_HANDSHAKE = 0x16;
const HS_CLIENT_HELLO = 0x01;
const MAX_RECORD = 16384 + 2048; // plaintext limit plus slack some stacks use
const EXT_SERVER_NAME = 0x0000;

const fail = (reason: HelloFailure): HelloResult => Object.freeze({ ok: false, reason });
const NEED_MORE = fail('need-more');
const NOT_TLS = fail('not-tls');
const TOO_LARGE = fail('too-large');
const NO_SNI = fail('no-sni');
const MALFORMED = fail('malformed');

/**
 * Reads the SNI host_name (lower-cased) from the bytes received so far. Never throws.
 * `need-more` means: call again when more bytes arrived (the caller bounds time and size).
 */
export function readClientHello(buf: Uint8Array, maxBytes: number = MAX_HELLO_BYTES): HelloResult {
  const n = buf.length;
  if (n === 0) return NEED_MORE;
  if (buf[0] !== REC_HANDSHAKE) return NOT_TLS;
  if (n >= 2 && buf[1] !== 0x03) return NOT_TLS;
  if (n < 5) return NEED_MORE;
  const len0 = (buf[3]! << 8) | buf[4]!;
  if (len0 === 0 || len0 > MAX_RECORD) return MALFORMED;
  if (len0 >= 4 && n >= 9) {
    if (buf[5] !== HS_CLIENT_HELLO) return NOT_TLS;
    const msgLen = 4 + ((buf[6]! << 16) | (buf[7]! << 8) | buf[8]!);
    // Every record adds a 5-byte header; the hello cannot need fewer bytes than this.
    if (5 + msgLen > maxBytes) return TOO_LARGE;
    if (msgLen <= len0) {
      // Fast path: the whole message is inside the first record; parse in place.
      if (n < 5 + msgLen) return NEED_MORE;
      return parseHello(buf, 9, 5 + msgLen, 5 + len0);
    }
  }
  return joinRecords(buf, maxBytes);
}

/**
 * Slow path: the message spans records (even its 4-byte header may be split). Record payloads are
 * copied once into one buffer, which can never be longer than the bytes received.
 */
function joinRecords(buf: Uint8Array, maxBytes: number): HelloResult {
  const n = buf.length;
  const pay = new Uint8Array(n);
  let have = 0;
  let off = 0;
  let msgLen = -1;
  for (;;) {
    if (off + 5 > n) return off + 5 > maxBytes ? TOO_LARGE : NEED_MORE;
    if (buf[off] !== REC_HANDSHAKE || buf[off + 1] !== 0x03) return off === 0 ? NOT_TLS : MALFORMED;
    const rl = (buf[off + 3]! << 8) | buf[off + 4]!;
    if (rl === 0 || rl > MAX_RECORD) return MALFORMED;
    const avail = Math.min(rl, n - off - 5);
    pay.set(buf.subarray(off + 5, off + 5 + avail), have);
    have += avail;
    if (msgLen < 0 && have >= 4) {
      if (pay[0] !== HS_CLIENT_HELLO) return NOT_TLS;
      msgLen = 4 + ((pay[1]! << 16) | (pay[2]! << 8) | pay[3]!);
      if (5 + msgLen > maxBytes) return TOO_LARGE;
    }
    if (msgLen >= 0 && have >= msgLen) return parseHello(pay, 4, msgLen, Math.min(off + 5 + rl, n));
    if (off + 5 + rl > maxBytes) return TOO_LARGE;
    if (avail < rl) return NEED_MORE;
    off += 5 + rl;
  }
}

/** Walks the ClientHello body in [start, end); `consumed` is reported as the record bytes used. */
function parseHello(b: Uint8Array, start: number, end: number, consumed: number): HelloResult {
  let p = start + 2 + 32; // legacy_version, random
  if (p + 1 > end) return MALFORMED;
  p += 1 + b[p]!; // session_id
  if (p + 2 > end) return MALFORMED;
  p += 2 + ((b[p]! << 8) | b[p + 1]!); // cipher_suites
  if (p + 1 > end) return MALFORMED;
  p += 1 + b[p]!; // compression_methods
  if (p > end) return MALFORMED;
  if (p === end) return NO_SNI; // no extensions at all
  if (p + 2 > end) return MALFORMED;
  const extEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!);
  if (extEnd > end) return MALFORMED;
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (p + len > extEnd) return MALFORMED;
    if (type === EXT_SERVER_NAME) return serverName(b, p, p + len, consumed);
    p += len;
  }
  return p === extEnd ? NO_SNI : MALFORMED;
}

function serverName(b: Uint8Array, p: number, end: number, consumed: number): HelloResult {
  if (p + 2 > end) return MALFORMED;
  const listEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!);
  if (listEnd > end) return MALFORMED;
  p += 2;
  while (p + 3 <= listEnd) {
    const nameType = b[p]!;
    const len = (b[p + 1]! << 8) | b[p + 2]!;
    p += 3;
    if (p + len > listEnd) return MALFORMED;
    if (nameType === 0) {
      if (len === 0) return NO_SNI;
      let s = '';
      for (let i = p; i < p + len; i++) {
        let c = b[i]!;
        // host names are printable ASCII; anything else cannot be a routing key
        if (c <= 0x20 || c >= 0x7f) return MALFORMED;
        if (c >= 0x41 && c <= 0x5a) c += 0x20;
        s += String.fromCharCode(c);
      }
      return { ok: true, sni: s, length: consumed };
    }
    p += len;
  }
  return NO_SNI;
}
