import { RouteSyntaxError } from './errors.ts';
import type { RouteDef } from './types.ts';

/**
 * The route command language (fabio-reference (b)). Every single space of the grammar accepts one
 * or more whitespace characters, hence `\s+` throughout. Clause order is fixed: weight, tags, opts.
 */
// Go's RE2 \s is ASCII-only ([\t\n\f\r ]), unlike JavaScript's; spelled out to match exactly.
const RE_IS_ADD = /^route[\t\n\f\r ]+add/;
const RE_IS_DEL = /^route[\t\n\f\r ]+del/;
const RE_IS_WEIGHT = /^route[\t\n\f\r ]+weight/;

// the optional clauses' wrappers do not capture: a capture is a string made per line
const RE_ADD =
  /^route[\t\n\f\r ]+add[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+([^\t\n\f\r ]+)(?:[\t\n\f\r ]+weight[\t\n\f\r ]+([^\t\n\f\r ]+))?(?:[\t\n\f\r ]+tags[\t\n\f\r ]+"([^"]*)")?(?:[\t\n\f\r ]+opts[\t\n\f\r ]+"([^"]*)")?$/;
const RE_DEL_TAGS = /^route[\t\n\f\r ]+del([\t\n\f\r ]+([^\t\n\f\r ]+))?[\t\n\f\r ]+tags[\t\n\f\r ]+"([^"]*)"$/;
const RE_DEL =
  /^route[\t\n\f\r ]+del[\t\n\f\r ]+([^\t\n\f\r ]+)([\t\n\f\r ]+([^\t\n\f\r ]+)([\t\n\f\r ]+([^\t\n\f\r ]+))?)?$/;
const RE_WEIGHT_TAGS =
  /^route[\t\n\f\r ]+weight[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+weight[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+tags[\t\n\f\r ]+"([^"]*)"$/;
const RE_WEIGHT =
  /^route[\t\n\f\r ]+weight[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+([^\t\n\f\r ]+)[\t\n\f\r ]+weight[\t\n\f\r ]+([^\t\n\f\r ]+)([\t\n\f\r ]+tags[\t\n\f\r ]+"([^"]*)")?$/;

/** Go strconv.ParseFloat for the forms people write (decimal, exponent, inf, nan). */
const RE_FLOAT = /^[+-]?(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][+-]?\d+)?$/;
const RE_SPECIAL = /^[+-]?(inf|infinity|nan)$/i;

/** Parses a weight value; throws the fabio reason on an invalid one. '' is 0 (no weight). */
function parseWeight(s: string | undefined): number {
  if (s === undefined || s === '') return 0;
  if (RE_SPECIAL.test(s)) {
    const l = s.toLowerCase();
    if (l.endsWith('nan')) return Number.NaN;
    return l.startsWith('-') ? -Infinity : Infinity;
  }
  // Go only accepts underscores in base-prefixed literals; plain decimal with '_' is invalid.
  if (!RE_FLOAT.test(s) || s.includes('_')) throw new Error('syntax error: weight value invalid');
  return Number(s);
}

/** Shared empties: most commands have no tags or opts, and a build makes one per target. */
const NO_TAGS: readonly string[] = Object.freeze([]);
const NO_OPTS: Readonly<Record<string, string>> = Object.freeze({});

/** A flat copy of `s` that shares no memory with the text `s` was cut from. */
const own = (s: string): string => ` ${s}`.slice(1);

/**
 * The last tags and opts clauses parsed, with their (frozen) results: the lines of one service
 * are adjacent in the registry's route text and carry the same clauses, so consecutive commands
 * share one frozen array or object instead of one each per target (bench/README.md, "Cold
 * builds"). One entry each: nothing grows, and what it keeps is a copy of one clause (`own`),
 * never a slice pinning a whole route text.
 */
let lastTags: [src: string, tags: readonly string[]] = ['', NO_TAGS];
let lastOpts: [src: string, opts: Readonly<Record<string, string>>] = ['', NO_OPTS];

/** Splits `a, b,c` into trimmed tags (frozen); '' gives no tags. */
function parseTags(s: string | undefined): readonly string[] {
  if (s === undefined || s === '') return NO_TAGS;
  if (lastTags[0] === s) return lastTags[1];
  const src = own(s);
  const tags = Object.freeze(src.split(',').map((t) => t.trim()));
  lastTags = [src, tags];
  return tags;
}

/** Splits `k=v k2 k3=a=b` on whitespace (frozen); a bare key gets ''. Later keys win, as in a Go map. */
function parseOpts(s: string | undefined): Readonly<Record<string, string>> {
  if (s === undefined || s === '') return NO_OPTS;
  if (lastOpts[0] === s) return lastOpts[1];
  const src = own(s);
  const m: Record<string, string> = {};
  for (const f of src.split(/\s+/)) {
    if (f === '') continue;
    const i = f.indexOf('=');
    if (i < 0) m[f] = '';
    else m[f.slice(0, i)] = f.slice(i + 1);
  }
  lastOpts = [src, Object.freeze(m)];
  return m;
}

function def(
  cmd: RouteDef['cmd'],
  line: number,
  fields: {
    service?: string;
    src?: string;
    dst?: string;
    weight?: number;
    tags?: readonly string[];
    opts?: Readonly<Record<string, string>>;
  },
): RouteDef {
  return {
    cmd,
    service: fields.service ?? '',
    src: fields.src ?? '',
    dst: fields.dst ?? '',
    weight: fields.weight ?? 0,
    tags: fields.tags ?? NO_TAGS,
    opts: fields.opts ?? NO_OPTS,
    line,
  };
}

/** Parses one trimmed, non-comment line; throws Error with the reason (no line number). */
export function parseLine(line: string, n: number): RouteDef {
  if (RE_IS_ADD.test(line)) {
    const m = RE_ADD.exec(line);
    if (!m) throw new Error("syntax error: 'route add' invalid");
    // one object per line, no `fields` bag: this runs for every line of a build
    return {
      cmd: 'route add',
      service: m[1] as string,
      src: m[2] as string,
      dst: m[3] as string,
      weight: parseWeight(m[4]),
      tags: parseTags(m[5]),
      opts: parseOpts(m[6]),
      line: n,
    };
  }
  if (RE_IS_DEL.test(line)) {
    let m = RE_DEL_TAGS.exec(line);
    if (m) return def('route del', n, { service: m[2] ?? '', tags: parseTags(m[3]) });
    m = RE_DEL.exec(line);
    if (m) return def('route del', n, { service: m[1], src: m[3] ?? '', dst: m[5] ?? '' });
    throw new Error("syntax error: 'route del' invalid");
  }
  if (RE_IS_WEIGHT.test(line)) {
    let m = RE_WEIGHT_TAGS.exec(line);
    if (m) return def('route weight', n, { src: m[1], weight: parseWeight(m[2]), tags: parseTags(m[3]) });
    m = RE_WEIGHT.exec(line);
    if (m)
      return def('route weight', n, { service: m[1], src: m[2], weight: parseWeight(m[3]), tags: parseTags(m[5]) });
    throw new Error("syntax error: 'route weight' invalid");
  }
  throw new Error("syntax error: 'route' expected");
}

/**
 * Calls `fn` with each command of the route text, in order. Lines are trimmed; blank lines and
 * lines starting with `#` or `//` are skipped but counted. The first bad line throws
 * RouteSyntaxError (`line N: ...`). Streaming (no array of lines or commands) keeps a large build
 * from holding every line and command alive across young-generation GCs.
 */
export function forEachRouteDef(text: string, fn: (d: RouteDef) => void): void {
  let start = 0;
  for (let n = 1; start <= text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    let d: RouteDef;
    try {
      d = parseLine(line, n);
    } catch (err) {
      throw new RouteSyntaxError(n, (err as Error).message, { cause: err });
    }
    fn(d);
  }
}

/** Parses route text into commands (see forEachRouteDef). */
export function parseRouteText(text: string): RouteDef[] {
  const defs: RouteDef[] = [];
  forEachRouteDef(text, (d) => defs.push(d));
  return defs;
}
