import type { AccessRules } from './types.ts';

/**
 * allow=/deny= target options: `ip:CIDR` or `ip:IP` items, comma separated, IPv4 and IPv6.
 * Parsed once at build time into numeric prefixes so allowed(ip) is a few integer compares.
 */

interface Net {
  /** 4 words for IPv6, 1 word for IPv4. */
  readonly words: Uint32Array;
  readonly bits: number;
}

function parseIPv4(s: string): Uint32Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255 || (p.length > 1 && p.startsWith('0'))) return undefined;
    n = n * 256 + v;
  }
  return Uint32Array.of(n);
}

function parseIPv6(s: string): Uint32Array | undefined {
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  let tail: number[] = [];
  // embedded IPv4 (::ffff:1.2.3.4)
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = parseIPv4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const n = v4[0] as number;
    tail = [n >>> 16, n & 0xffff];
    s = `${s.slice(0, lastColon + 1)}`;
    if (s.endsWith('::')) s += '';
    else s = s.slice(0, -1);
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (x: string): number[] | undefined => {
    if (x === '') return [];
    const out: number[] = [];
    for (const g of x.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const rest = parseGroups(s.slice(dbl + 2));
    if (head === undefined || rest === undefined) return undefined;
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    const all = parseGroups(s);
    if (all === undefined) return undefined;
    groups = [...all, ...tail];
  }
  if (groups.length !== 8) return undefined;
  const w = new Uint32Array(4);
  for (let i = 0; i < 4; i++) w[i] = (((groups[2 * i] as number) << 16) | (groups[2 * i + 1] as number)) >>> 0;
  return w;
}

/** Parses an IP; IPv4-mapped IPv6 addresses become IPv4 (Go's net.IP does the same when matching). */
export function parseIP(s: string): Uint32Array | undefined {
  if (s.includes(':')) {
    const w = parseIPv6(s);
    if (w !== undefined && w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return Uint32Array.of(w[3] as number);
    return w;
  }
  return parseIPv4(s);
}

function contains(net: Net, ip: Uint32Array): boolean {
  if (net.words.length !== ip.length) return false;
  let bits = net.bits;
  for (let i = 0; i < ip.length && bits > 0; i++) {
    const take = Math.min(bits, 32);
    const mask = take === 32 ? 0xffffffff : ~(0xffffffff >>> take) >>> 0;
    if (((ip[i] as number) & mask) >>> 0 !== ((net.words[i] as number) & mask) >>> 0) return false;
    bits -= take;
  }
  return true;
}

function parseItem(item: string): Net {
  const colon = item.indexOf(':');
  if (colon < 0) throw new Error(`invalid access item, expected <type>:<data>, got ${item}`);
  const kind = item.slice(0, colon).trim();
  const data = item.slice(colon + 1).trim();
  if (kind !== 'ip') throw new Error(`unknown access item type: ${kind}`);
  const slash = data.indexOf('/');
  const addr = slash >= 0 ? data.slice(0, slash) : data;
  let words = addr.includes(':') ? parseIPv6(addr) : parseIPv4(addr);
  if (words === undefined) throw new Error(`failed to parse address ${data}`);
  const max = words.length * 32;
  let bits = max;
  if (slash >= 0) {
    const b = data.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b) || Number(b) > max) throw new Error(`failed to parse CIDR ${data}`);
    bits = Number(b);
  }
  // a host route for an IPv4-mapped address matches the plain IPv4 client
  if (words.length === 4 && words[0] === 0 && words[1] === 0 && words[2] === 0xffff && bits >= 96) {
    words = Uint32Array.of(words[3] as number);
    bits -= 96;
  }
  return { words, bits };
}

/**
 * Builds the rules of one target from its opts. Returns undefined when there are none; throws
 * Error (reason for a build warning) when they are ambiguous or malformed — the target then has
 * no rules, as in fabio.
 */
export function parseAccessRules(opts: Readonly<Record<string, string>>): AccessRules | undefined {
  // fabio tests `Opts[...] != ""`: an empty allow= or deny= is no rule at all
  const allow = opts.allow || undefined;
  const deny = opts.deny || undefined;
  if (allow === undefined && deny === undefined) return undefined;
  // fabio's wording (route/access_rules.go); the caller adds `failed to process access rules: `
  if (allow !== undefined && deny !== undefined)
    throw new Error('specifying allow and deny on the same route is not supported');
  const mode: 'allow' | 'deny' = allow !== undefined ? 'allow' : 'deny';
  const list = (allow ?? deny ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const nets = list.map(parseItem);
  const allowed = (ip: string): boolean => {
    const w = parseIP(ip);
    let hit = false;
    if (w !== undefined) {
      for (const n of nets)
        if (contains(n, w)) {
          hit = true;
          break;
        }
    }
    return mode === 'allow' ? hit : !hit;
  };
  return Object.freeze({ mode, allowed });
}
