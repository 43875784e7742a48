import { createHash } from 'node:crypto';

/**
 * The crypt(3) password hashes found in htpasswd files that node:crypto can compute:
 * MD5-crypt (`$apr1$` from Apache, `$1$`) and SHA-crypt (`$5$`, `$6$`), written from their public
 * descriptions (Poul-Henning Kamp's md5crypt; Ulrich Drepper's "Unix crypt using SHA-256 and
 * SHA-512"). Passwords and salts are handled as UTF-8 bytes.
 */

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** crypt's base-64: `n` characters from the 24-bit value, least significant 6 bits first. */
function to64(v: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ITOA64[v & 0x3f];
    v >>>= 6;
  }
  return s;
}

/** MD5-crypt of `password` with `salt` (at most 8 characters used) and `magic` ('$apr1$' or '$1$'). */
export function md5Crypt(password: string, salt: string, magic: string): string {
  const pw = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.split('$')[0]!.slice(0, 8), 'utf8');
  const alt = createHash('md5').update(pw).update(s).update(pw).digest();
  const ctx = createHash('md5').update(pw).update(magic).update(s);
  for (let pl = pw.length; pl > 0; pl -= 16) ctx.update(alt.subarray(0, Math.min(pl, 16)));
  for (let i = pw.length; i > 0; i >>>= 1) ctx.update(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  let fin = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = createHash('md5');
    c.update(i & 1 ? pw : fin);
    if (i % 3) c.update(s);
    if (i % 7) c.update(pw);
    c.update(i & 1 ? fin : pw);
    fin = c.digest();
  }
  const f = fin;
  const out =
    to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) +
    to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) +
    to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) +
    to64(f[11]!, 2);
  return `${magic}${s.toString('utf8')}$${out}`;
}

/** Repeats `block` to exactly `len` bytes. */
function stretch(block: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let o = 0; o < len; o += block.length) block.copy(out, o, 0, Math.min(block.length, len - o));
  return out;
}

const ORDER_512 = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
] as const;
const ORDER_256 = [
  [0, 10, 20],
  [21, 1, 11],
  [12, 22, 2],
  [3, 13, 23],
  [24, 4, 14],
  [15, 25, 5],
  [6, 16, 26],
  [27, 7, 17],
  [18, 28, 8],
  [9, 19, 29],
] as const;

const ROUNDS_DEFAULT = 5000;
/** Bounded lower than the spec's 999,999,999 so a hostile htpasswd line cannot stall the proxy. */
const ROUNDS_MAX = 1_000_000;

/**
 * SHA-crypt: `setting` is the stored hash (or its `$5$[rounds=N$]salt` prefix). Returns the full
 * hash string, or undefined when the setting is malformed.
 */
export function shaCrypt(password: string, setting: string): string | undefined {
  const m = /^\$([56])\$(?:rounds=([0-9]+)\$)?([^$]{0,16})/.exec(setting);
  if (!m) return undefined;
  const algo = m[1] === '5' ? 'sha256' : 'sha512';
  const custom = m[2] !== undefined;
  const rounds = custom ? Math.min(Math.max(Number(m[2]), 1000), 999_999_999) : ROUNDS_DEFAULT;
  if (rounds > ROUNDS_MAX) return undefined;
  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(m[3]!, 'utf8');
  const H = () => createHash(algo);
  const B = H().update(P).update(S).update(P).digest();
  const a = H().update(P).update(S).update(stretch(B, P.length));
  for (let i = P.length; i > 0; i >>>= 1) a.update(i & 1 ? B : P);
  const A = a.digest();
  const dp = H();
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pp = stretch(dp.digest(), P.length);
  const ds = H();
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(S);
  const Sp = stretch(ds.digest(), S.length);
  let C = A;
  for (let i = 0; i < rounds; i++) {
    const c = H();
    c.update(i & 1 ? Pp : C);
    if (i % 3) c.update(Sp);
    if (i % 7) c.update(Pp);
    c.update(i & 1 ? C : Pp);
    C = c.digest();
  }
  let out = '';
  if (algo === 'sha512') {
    for (const [x, y, z] of ORDER_512) out += to64((C[x]! << 16) | (C[y]! << 8) | C[z]!, 4);
    out += to64(C[63]!, 2);
  } else {
    for (const [x, y, z] of ORDER_256) out += to64((C[x]! << 16) | (C[y]! << 8) | C[z]!, 4);
    out += to64((C[31]! << 8) | C[30]!, 3);
  }
  return `$${m[1]}$${custom ? `rounds=${rounds}$` : ''}${m[3]}$${out}`;
}
