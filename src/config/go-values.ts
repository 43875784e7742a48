import { goQuote } from '../go/quote.ts';

/**
 * Go value syntaxes used by fabio's flags and listener options: time.ParseDuration,
 * strconv.ParseBool, strconv.ParseInt(s, 0, 64) and the
 * `%s` rendering of a map[string]string (fabio prints cert-source maps that way in errors).
 */

const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/** Go's time.ParseDuration; returns milliseconds (may be fractional). Throws Go's error text. */
export function parseDuration(orig: string): number {
  let s = orig;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${goQuote(orig)}`);
  let totalNs = 0;
  while (s !== '') {
    let i = 0;
    while (isDigit(s[i])) i++;
    const intPart = s.slice(0, i);
    let fracPart = '';
    if (s[i] === '.') {
      let j = i + 1;
      while (isDigit(s[j])) j++;
      fracPart = s.slice(i + 1, j);
      i = j;
    }
    if (intPart === '' && fracPart === '') throw new Error(`time: invalid duration ${goQuote(orig)}`);
    s = s.slice(i);
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    const unit = s.slice(0, u);
    if (unit === '') throw new Error(`time: missing unit in duration ${goQuote(orig)}`);
    const mult = UNIT_NS[unit];
    if (mult === undefined) throw new Error(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    s = s.slice(u);
    totalNs += Number(`${intPart || '0'}.${fracPart || '0'}`) * mult;
    // Go's int64 nanoseconds overflow at ~292 years.
    if (totalNs > 2 ** 63 - 1) throw new Error(`time: invalid duration ${goQuote(orig)}`);
  }
  // Go truncates to whole nanoseconds.
  const ns = Math.floor(totalNs);
  return (neg ? -ns : ns) / 1e6;
}

/** Go's time.Duration.String() for a value in milliseconds (used by /api/config and usage). */
export function formatDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  if (neg) ns = -ns;
  let out: string;
  if (ns < 1e3) out = `${ns}ns`;
  else if (ns < 1e6) out = `${trimFrac(ns / 1e3)}µs`;
  else if (ns < 1e9) out = `${trimFrac(ns / 1e6)}ms`;
  else {
    const h = Math.floor(ns / 3600e9);
    const m = Math.floor((ns % 3600e9) / 60e9);
    const sec = (ns % 60e9) / 1e9;
    out = `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trimFrac(sec)}s`;
  }
  return neg ? `-${out}` : out;
}

function trimFrac(n: number): string {
  return String(Number(n.toFixed(9)));
}

/** Go's strconv.ParseBool. */
export function parseBool(s: string): boolean {
  switch (s) {
    case '1':
    case 't':
    case 'T':
    case 'TRUE':
    case 'true':
    case 'True':
      return true;
    case '0':
    case 'f':
    case 'F':
    case 'FALSE':
    case 'false':
    case 'False':
      return false;
    default:
      throw new Error('parse error');
  }
}

/**
 * Go's strconv.ParseInt(s, 0, 64) as used by flag.IntVar: optional sign, 0x/0o/0b prefixes, a
 * leading 0 means octal, underscores only between digits.
 * Throws 'parse error' or 'value out of range' (the flag package's wording).
 */
export function parseGoInt(s: string): number {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (!m) throw new Error('parse error');
  const sign = m[1] === '-' ? -1n : 1n;
  let body = m[2] ?? '';
  if (body.includes('_')) {
    // Go literal rules: an underscore separates digits (or follows the base prefix).
    if (/__|_$/.test(body)) throw new Error('parse error');
    body = body.replace(/_/g, '');
    if (/^0[xXoObB]$/.test(body)) throw new Error('parse error');
  }
  let v: bigint;
  if (/^0[oO]/.test(body)) v = BigInt(`0o${body.slice(2)}`);
  else if (/^0[0-7]+$/.test(body)) v = BigInt(`0o${body.slice(1)}`);
  else v = BigInt(body);
  v *= sign;
  if (v > 9223372036854775807n || v < -9223372036854775808n) throw new Error('value out of range');
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error('value out of range');
  return n;
}

/** Go's strconv.ParseFloat(s, 64), decimal forms plus inf/nan. */
export function parseGoFloat(s: string): number {
  const t = s.replace(/_/g, '');
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(t)) return Number.NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new Error('parse error');
  return Number(t);
}

/** `%s` of a Go map[string]string: `map[k1:v1 k2:v2]`, keys sorted bytewise. */
export function goMapString(m: ReadonlyMap<string, string> | Readonly<Record<string, string>>): string {
  const entries = m instanceof Map ? [...m.entries()] : Object.entries(m as Record<string, string>);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `map[${entries.map(([k, v]) => `${k}:${v}`).join(' ')}]`;
}
