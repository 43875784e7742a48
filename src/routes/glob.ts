import { LRUCache } from 'lru-cache';

/**
 * gobwas/glob compiled without separators, as fabio uses it for hosts and (matcher=glob) paths:
 * `*` and `**` match any run of characters including `.` and `/`, `?` one character, `[abc]`,
 * `[a-z]`, `[!abc]`, `{a,b}` alternatives (which may nest globs) and `\x` escapes. Compiled to a
 * RegExp once at build time.
 *
 * Why not micromatch: it treats `/` as a separator, a leading `!` as negation, `@(..)`/`+(..)` as
 * extglobs and dot-files specially; gobwas has none of that, so a small exact translator is used
 * (see docs/compat-routes.md).
 */

export type GlobMatcher = (s: string) => boolean;

export class GlobSyntaxError extends Error {
  constructor(pattern: string, reason: string) {
    super(`invalid glob pattern ${JSON.stringify(pattern)}: ${reason}`);
    this.name = 'GlobSyntaxError';
  }
}

const RE_META = /[*?[{\\]/;

/** True when the pattern contains glob syntax (otherwise it matches only itself). */
export function isGlob(pattern: string): boolean {
  return RE_META.test(pattern);
}

function escapeRe(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

function escapeClass(ch: string): string {
  return /[\\\]^[-]/.test(ch) ? `\\${ch}` : ch;
}

/** Translates a gobwas glob to a RegExp source (without anchors). Throws GlobSyntaxError. */
function globToRegExpSource(pattern: string): string {
  const chars = Array.from(pattern);
  let i = 0;

  const parseSeq = (inBraces: boolean): string => {
    let out = '';
    while (i < chars.length) {
      const ch = chars[i] as string;
      if (inBraces && (ch === ',' || ch === '}')) return out;
      i++;
      switch (ch) {
        case '*':
          while (chars[i] === '*') i++;
          out += '[^]*';
          break;
        case '?':
          out += '[^]';
          break;
        case '\\': {
          const next = chars[i];
          if (next === undefined) throw new GlobSyntaxError(pattern, 'trailing escape');
          i++;
          out += escapeRe(next);
          break;
        }
        case '[':
          out += parseClass();
          break;
        case '{':
          out += parseAlt();
          break;
        default:
          out += escapeRe(ch);
      }
    }
    if (inBraces) throw new GlobSyntaxError(pattern, "unclosed '{'");
    return out;
  };

  const parseClass = (): string => {
    let negate = false;
    if (chars[i] === '!') {
      negate = true;
      i++;
    }
    let body = '';
    let last: string | undefined; // previous single character, a range may start from it
    while (true) {
      let ch = chars[i];
      if (ch === undefined) throw new GlobSyntaxError(pattern, "unclosed '['");
      i++;
      if (ch === ']' && body !== '') break;
      if (ch === ']') throw new GlobSyntaxError(pattern, 'empty character class');
      if (ch === '-' && last !== undefined && chars[i] !== undefined && chars[i] !== ']') {
        let hi = chars[i] as string;
        i++;
        if (hi === '\\') {
          hi = chars[i] ?? '';
          i++;
          if (hi === '') throw new GlobSyntaxError(pattern, "unclosed '['");
        }
        if ((last.codePointAt(0) ?? 0) > (hi.codePointAt(0) ?? 0)) throw new GlobSyntaxError(pattern, 'invalid range');
        body += `-${escapeClass(hi)}`;
        last = undefined;
        continue;
      }
      if (ch === '\\') {
        ch = chars[i];
        if (ch === undefined) throw new GlobSyntaxError(pattern, "unclosed '['");
        i++;
      }
      body += escapeClass(ch);
      last = ch;
    }
    return negate ? `[^${body}]` : `[${body}]`;
  };

  const parseAlt = (): string => {
    const alts: string[] = [];
    while (true) {
      alts.push(parseSeq(true));
      const ch = chars[i];
      i++;
      if (ch === '}') break;
      // ch === ','
    }
    return `(?:${alts.join('|')})`;
  };

  return parseSeq(false);
}

/** Compiles a glob to a whole-string matcher. Throws GlobSyntaxError. */
export function compileGlob(pattern: string): GlobMatcher {
  if (!isGlob(pattern)) return (s) => s === pattern;
  const re = new RegExp(`^(?:${globToRegExpSource(pattern)})$`, 'u');
  return (s) => re.test(s);
}

/**
 * Compiled host globs, shared across table builds (fabio's glob.cache.size): a rebuild after a
 * Consul change re-uses every pattern it has already compiled. Owned by whoever builds the tables
 * (`BuildOptions.globCache`; the runtime makes one per process in buildOptionsFrom).
 */
export class GlobCache {
  #cache: LRUCache<string, GlobMatcher>;

  constructor(size: number) {
    this.#cache = new LRUCache({ max: Math.max(1, Math.floor(size) || 1) });
  }

  get(pattern: string): GlobMatcher {
    let m = this.#cache.get(pattern);
    if (m === undefined) {
      m = compileGlob(pattern);
      this.#cache.set(pattern, m);
    }
    return m;
  }
}
