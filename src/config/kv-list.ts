import { ConfigError } from './errors.ts';

/**
 * fabio's list-value syntax (proxy.addr, ui.addr, proxy.cs, proxy.auth):
 *
 *   key=val;key=val,key=val;key=val
 *
 * `,` separates entries, `;` separates key/values inside an entry, the first value of an entry may
 * omit its key (stored under ''), `a=b=c` is key `a` value `b=c`, values may be quoted with `"` or
 * `'` (Go escapes) to hold `,` `;` `=`. Keys are trimmed, values are kept as written (fabio does
 * the same). Empty entries are skipped.
 *
 * One deliberate difference: fabio unquotes with strconv.Unquote, which only accepts a single
 * character between single quotes, so `'a,b'` fails there; here single quotes work like double.
 */

type Tok = { t: 'text' | 'eq' | 'semi' | 'comma'; v: string };

const ESC: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

/** Unquote the body of a quoted string with Go escapes. */
function unescape(body: string, quote: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\n') throw new ConfigError('invalid escape sequence');
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new ConfigError('unterminated escape sequence');
    const simple = ESC[e];
    if (simple !== undefined) {
      if ((e === "'" || e === '"') && e !== quote) throw new ConfigError('invalid escape sequence');
      out += simple;
      continue;
    }
    const hex = (n: number) => {
      const h = body.slice(i + 1, i + 1 + n);
      if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) throw new ConfigError('invalid escape sequence');
      i += n;
      return Number.parseInt(h, 16);
    };
    if (e === 'x') out += String.fromCharCode(hex(2));
    else if (e === 'u') out += String.fromCodePoint(hex(4));
    else if (e === 'U') {
      const cp = hex(8);
      if (cp > 0x10ffff) throw new ConfigError('invalid escape sequence');
      out += String.fromCodePoint(cp);
    } else if (e >= '0' && e <= '7') {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o)) throw new ConfigError('invalid escape sequence');
      i += 2;
      const n = Number.parseInt(o, 8);
      if (n > 255) throw new ConfigError('invalid escape sequence');
      out += String.fromCharCode(n);
    } else throw new ConfigError('invalid escape sequence');
  }
  return out;
}

function lex(s: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === ',') toks.push({ t: 'comma', v: c });
    else if (c === ';') toks.push({ t: 'semi', v: c });
    else if (c === '=') toks.push({ t: 'eq', v: c });
    else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < s.length && s[j] !== c) j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length)
        throw new ConfigError(
          s[s.length - 1] === '\\' && j === s.length + 1 ? 'unterminated escape sequence' : 'unbalanced quotes',
        );
      toks.push({ t: 'text', v: unescape(s.slice(i + 1, j), c) });
      i = j + 1;
      continue;
    } else {
      let j = i;
      while (j < s.length && s[j] !== ',' && s[j] !== ';' && s[j] !== '=' && s[j] !== '"' && s[j] !== "'") j++;
      // fabio's lexer only treats a quote as special at the start of a token.
      while (j < s.length && (s[j] === '"' || s[j] === "'")) {
        j++;
        while (j < s.length && s[j] !== ',' && s[j] !== ';' && s[j] !== '=') j++;
      }
      toks.push({ t: 'text', v: s.slice(i, j) });
      i = j;
      continue;
    }
    i++;
  }
  return toks;
}

/** Parse a list value into entries (insertion-ordered maps). Throws ConfigError on bad quoting. */
export function parseKVList(input: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let m = new Map<string, string>();
  const flush = () => {
    if (m.size > 0) out.push(m);
    m = new Map();
  };
  type State = 'firstKey' | 'afterFirst' | 'key' | 'eq' | 'val';
  let state: State = 'firstKey';
  let key = '';
  let val = '';
  for (const tok of lex(input)) {
    switch (state) {
      case 'firstKey':
      case 'key':
        if (tok.t === 'text') {
          key = tok.v.trim();
          state = state === 'firstKey' ? 'afterFirst' : 'eq';
        } else if (tok.t === 'eq') throw new ConfigError(`invalid value ${JSON.stringify(input)}: '=' without a key`);
        break;
      case 'afterFirst':
        if (tok.t === 'eq') state = 'val';
        else if (tok.t === 'comma' || tok.t === 'semi') {
          if (key !== '') m.set('', key);
          if (tok.t === 'comma') flush();
          state = tok.t === 'comma' ? 'firstKey' : 'key';
        } else
          throw new ConfigError(`invalid value ${JSON.stringify(input)}: unexpected text after ${JSON.stringify(key)}`);
        break;
      case 'eq':
        // fabio fails here with the bare token (',' or ';') as its message; name the key instead
        if (tok.t !== 'eq')
          throw new ConfigError(`invalid value ${JSON.stringify(input)}: missing '=' after ${JSON.stringify(key)}`);
        state = 'val';
        break;
      case 'val':
        if (tok.t === 'text' || tok.t === 'eq') val += tok.v;
        else {
          m.set(key, val);
          val = '';
          if (tok.t === 'comma') flush();
          state = tok.t === 'comma' ? 'firstKey' : 'key';
        }
        break;
    }
  }
  // fabio silently drops a trailing key without '=' (`:443;strictmatch`); we report it like the
  // same mistake in the middle of the value.
  if (state === 'eq')
    throw new ConfigError(`invalid value ${JSON.stringify(input)}: missing '=' after ${JSON.stringify(key)}`);
  if (state === 'val') m.set(key, val);
  else if (state === 'afterFirst' && key !== '') m.set('', key);
  flush();
  return out;
}
