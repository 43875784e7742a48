import { ConfigError } from './errors.ts';

/**
 * Java-properties syntax as fabio reads its `-cfg` file (magiconair/properties):
 * `key = value`, `key=value`, `key: value`, `key value`; `#` and `!` comment lines; a line ending in
 * an odd number of backslashes continues on the next line (leading blanks of the continuation are
 * dropped); escapes `\t \n \r \f \uXXXX`, any other `\c` is `c`; `${name}` in a value expands to
 * another property of the file, else to the environment variable, else to ''.
 * Trailing blanks of a value are dropped (a trailing blank in `proxy.addr = :9999 ` would only hurt).
 */
export interface Properties {
  /** Keys in file order (last definition wins for the value). */
  readonly keys: readonly string[];
  get(key: string): string | undefined;
}

function unescapeProp(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++i];
    if (e === undefined) break;
    if (e === 't') out += '\t';
    else if (e === 'n') out += '\n';
    else if (e === 'r') out += '\r';
    else if (e === 'f') out += '\f';
    else if (e === 'u') {
      const h = s.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new ConfigError(`invalid unicode escape \\u${h}`);
      out += String.fromCharCode(Number.parseInt(h, 16));
      i += 4;
    } else out += e;
  }
  return out;
}

const trailingBackslashes = (s: string) => {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n;
};

/** Split into logical lines: comments and blank lines dropped, continuations joined. */
function logicalLines(text: string): string[] {
  const phys = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  const out: string[] = [];
  let acc: string | undefined;
  for (const raw of phys) {
    const line = acc === undefined ? raw.replace(/^[ \t\f]+/, '') : raw.replace(/^[ \t\f]+/, '');
    if (acc === undefined && (line === '' || line[0] === '#' || line[0] === '!')) continue;
    const cont = trailingBackslashes(line) % 2 === 1;
    const body = cont ? line.slice(0, -1) : line;
    acc = (acc ?? '') + body;
    if (!cont) {
      out.push(acc);
      acc = undefined;
    }
  }
  if (acc !== undefined && acc !== '') out.push(acc);
  return out;
}

function splitKeyValue(line: string): [string, string] {
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    i++;
  }
  const key = line.slice(0, i);
  let rest = line.slice(i).replace(/^[ \t\f]+/, '');
  if (rest[0] === '=' || rest[0] === ':') rest = rest.slice(1).replace(/^[ \t\f]+/, '');
  // keep an escaped trailing blank (`a = b\ `), drop plain trailing blanks
  rest = rest.replace(/(?<!\\)[ \t\f]+$/, '');
  return [unescapeProp(key), unescapeProp(rest)];
}

/** Parse properties text. `env` serves `${VAR}` references that are not properties. */
export function parseProperties(text: string, env: Readonly<Record<string, string | undefined>> = {}): Properties {
  const raw = new Map<string, string>();
  for (const line of logicalLines(text)) {
    const [k, v] = splitKeyValue(line);
    raw.delete(k); // file order follows the last definition
    raw.set(k, v);
  }
  const resolved = new Map<string, string>();
  const expand = (key: string, value: string, seen: string[]): string =>
    value.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
      if (seen.includes(name))
        throw new ConfigError(`circular reference in property ${key}: ${[...seen, name].join(' -> ')}`);
      const inner = raw.get(name);
      if (inner !== undefined) return expand(name, inner, [...seen, name]);
      return env[name] ?? '';
    });
  for (const [k, v] of raw) resolved.set(k, expand(k, v, [k]));
  return { keys: [...resolved.keys()], get: (key) => resolved.get(key) };
}
