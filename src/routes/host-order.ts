/**
 * Most-specific-first host order (fabio issue 506): reverse each host rune-wise (keeping a `:port`
 * suffix in place), sort descending, reverse back. So `z.abc.com` sorts before `*.abc.com` and
 * `*.aaa.abc.com` before `*.abc.com`.
 */

/** Go net.SplitHostPort, enough for host keys: undefined when there is no valid port split. */
function splitHostPort(s: string): [string, string] | undefined {
  const i = s.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0 || end + 1 !== i) return undefined;
    host = s.slice(1, end);
  } else {
    host = s.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  const port = s.slice(i + 1);
  if (host.includes('[') || host.includes(']') || port.includes('[') || port.includes(']')) return undefined;
  return [host, port];
}

/** fabio's ReverseHostPort. */
export function reverseHostPort(s: string): string {
  const hp = splitHostPort(s);
  const h = hp === undefined || hp[0] === '' ? s : hp[0];
  const p = hp === undefined ? '' : hp[1];
  const r = Array.from(h).reverse().join('');
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

/** fabio's normalizeHost: lower-case, drop `:80` on plain and `:443` on TLS requests. */
export function normalizeHost(host: string, tls: boolean): string {
  const h = host.toLowerCase();
  if (!tls && h.endsWith(':80')) return h.slice(0, -3);
  if (tls && h.endsWith(':443')) return h.slice(0, -4);
  return h;
}
