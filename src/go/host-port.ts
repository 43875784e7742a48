/**
 * Go's net.SplitHostPort, the one copy (issue #16): listener addresses, -dev.addr and route host
 * keys are split the way fabio splits them, with Go's error texts.
 */

export interface HostPort {
  readonly host: string;
  /** The text after the last colon, unchecked ('' for `host:`), as Go returns it. */
  readonly port: string;
}

/** Go's *net.AddrError: `address <addr>: <why>`. */
export class AddrError extends Error {
  override readonly name = 'AddrError';
  readonly addr: string;
  readonly why: string;
  constructor(addr: string, why: string) {
    super(`address ${addr}: ${why}`);
    this.addr = addr;
    this.why = why;
  }
}

const MISSING_PORT = 'missing port in address';
const TOO_MANY_COLONS = 'too many colons in address';

/** The split, or Go's error text. */
function split(hp: string): HostPort | string {
  const i = hp.lastIndexOf(':');
  if (i < 0) return MISSING_PORT;
  let host: string;
  let j = 0;
  let k = 0;
  if (hp.startsWith('[')) {
    const end = hp.indexOf(']');
    if (end < 0) return "missing ']' in address";
    if (end + 1 === hp.length) return MISSING_PORT;
    if (end + 1 !== i) return hp[end + 1] === ':' ? TOO_MANY_COLONS : MISSING_PORT;
    host = hp.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hp.slice(0, i);
    if (host.includes(':')) return TOO_MANY_COLONS;
  }
  if (hp.indexOf('[', j) >= 0) return "unexpected '[' in address";
  if (hp.indexOf(']', k) >= 0) return "unexpected ']' in address";
  return { host, port: hp.slice(i + 1) };
}

/** net.SplitHostPort: throws an AddrError with Go's message when `hp` does not split. */
export function splitHostPort(hp: string): HostPort {
  const r = split(hp);
  if (typeof r === 'string') throw new AddrError(hp, r);
  return r;
}

/** net.SplitHostPort without the error: undefined where Go returns one. */
export function trySplitHostPort(hp: string): HostPort | undefined {
  const r = split(hp);
  return typeof r === 'string' ? undefined : r;
}
