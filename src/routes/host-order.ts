import { trySplitHostPort } from '../go/host-port.ts';

/**
 * Most-specific-first host order (fabio issue 506): reverse each host rune-wise (keeping a `:port`
 * suffix in place), sort descending, reverse back. So `z.abc.com` sorts before `*.abc.com` and
 * `*.aaa.abc.com` before `*.abc.com`.
 */

const RE_SURROGATE = /[\ud800-\udfff]/;

/**
 * `s` reversed rune-wise. Without surrogates (every host name in practice) runes are UTF-16 units
 * and `split('')` reverses them without the string iterator, about half the cost of `Array.from`
 * in a cold build (bench/README.md, "Cold builds").
 */
function reverseRunes(s: string): string {
  return RE_SURROGATE.test(s) ? Array.from(s).reverse().join('') : s.split('').reverse().join('');
}

/** fabio's ReverseHostPort. */
export function reverseHostPort(s: string): string {
  const hp = trySplitHostPort(s);
  const h = hp === undefined || hp.host === '' ? s : hp.host;
  const p = hp === undefined ? '' : hp.port;
  const r = reverseRunes(h);
  if (p === '') return r;
  return r.includes(':') ? `[${r}]:${p}` : `${r}:${p}`;
}

/** A host with its reverseHostPort key, as the specificity order compares them. */
export interface KeyedHost {
  readonly h: string;
  readonly k: string;
}

/** The most-specific-first order: reversed keys descending, then hosts descending. */
export const bySpecificity = (a: KeyedHost, b: KeyedHost): number =>
  a.k < b.k ? 1 : a.k > b.k ? -1 : a.h < b.h ? 1 : a.h > b.h ? -1 : 0;

/** Sorts host keys most specific first (returns a new array). */
export function sortHostsBySpecificity(hosts: readonly string[]): string[] {
  const keyed = hosts.map((h) => ({ h, k: reverseHostPort(h) }));
  keyed.sort(bySpecificity);
  return keyed.map((x) => x.h);
}

/** Characters `toLowerCase` can change: ASCII capitals and anything outside ASCII. */
const RE_MAY_CHANGE_CASE = /[A-Z\u0080-\uffff]/;

/**
 * `s.toLowerCase()`, but `s` itself when that changes nothing: `toLowerCase` copies even an
 * all-lower-case string, and host keys are lower case (a copy per key otherwise).
 */
export function lowerCase(s: string): string {
  return RE_MAY_CHANGE_CASE.test(s) ? s.toLowerCase() : s;
}

/** fabio's normalizeHost: lower-case, drop `:80` on plain and `:443` on TLS requests. */
export function normalizeHost(host: string, tls: boolean): string {
  return withoutDefaultPort(host.toLowerCase(), tls);
}

/**
 * normalizeHost for a route's host key at build time: the same result, without a copy of a key
 * that is lower case already (hostPath lower-cased it). Lookups keep `toLowerCase`: on a short
 * request host it costs fewer instructions than the RegExp test (bench/README.md, "Cold builds").
 */
export function normalizeKey(key: string, tls: boolean): string {
  return withoutDefaultPort(lowerCase(key), tls);
}

function withoutDefaultPort(h: string, tls: boolean): string {
  if (!tls && h.endsWith(':80')) return h.slice(0, -3);
  if (tls && h.endsWith(':443')) return h.slice(0, -4);
  return h;
}
