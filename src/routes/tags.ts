import { goQuote } from '../go/quote.ts';
import { addLineProblem } from './line-check.ts';
import { parseRouteText } from './parse.ts';
import { parseTargetURL } from './target-url.ts';

/**
 * `urlprefix-` tag translation (fabio-reference (a)): one Consul service instance with its tags →
 * route commands. A tag that would not survive the route language (quotes, control characters, a
 * bad redirect=) is skipped and reported; it never breaks other routes (architecture rule 10).
 */

export interface ServiceInstance {
  readonly service: string;
  /** ServiceAddress, or the node Address when empty (the caller decides). */
  readonly addr: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly tagPrefix: string;
  /** Variables for `$x`/`${x}` expansion in route tags (fabio: only `DC`). */
  readonly env: Readonly<Record<string, string>>;
}

export interface TagWarning {
  readonly tag: string;
  readonly message: string;
}

const isAlnum = (c: string): boolean => /^[A-Za-z0-9_]$/.test(c);
const isSpecial = (c: string): boolean => /^[*#$@!?\-0-9]$/.test(c);

/** Go os.Expand with unknown variables expanding to '' (fabio v1.7.3). */
export function goExpand(s: string, env: Readonly<Record<string, string>>): string {
  const lookup = (name: string): string => (Object.hasOwn(env, name) ? (env[name] ?? '') : '');
  let out = '';
  let i = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] !== '$' || j + 1 >= s.length) continue;
    out += s.slice(i, j);
    const rest = s.slice(j + 1);
    let name = '';
    let w = 0;
    if (rest[0] === '{') {
      if (rest.length > 2 && isSpecial(rest[1] as string) && rest[2] === '}') {
        name = rest[1] as string;
        w = 3;
      } else {
        const close = rest.indexOf('}');
        if (close === 1)
          w = 2; // "${}" is eaten
        else if (close < 0)
          w = 1; // "${" is eaten
        else {
          name = rest.slice(1, close);
          w = close + 1;
        }
      }
    } else if (isSpecial(rest[0] as string)) {
      name = rest[0] as string;
      w = 1;
    } else {
      while (w < rest.length && isAlnum(rest[w] as string)) w++;
      name = rest.slice(0, w);
    }
    if (name === '' && w === 0) out += '$';
    else if (name !== '') out += lookup(name);
    j += w;
    i = j + 1;
  }
  return out + s.slice(i);
}

/** Splits a route tag into the route source and its option string; undefined if not a route tag. */
export function parseURLPrefixTag(
  tag: string,
  prefix: string,
  env: Readonly<Record<string, string>>,
): { route: string; opts: string } | undefined {
  let s = tag.trim();
  if (!s.startsWith(prefix)) return undefined;
  s = s.slice(prefix.length).trim();
  const sp = s.indexOf(' ');
  const opts = sp >= 0 ? s.slice(sp + 1) : '';
  s = sp >= 0 ? s.slice(0, sp) : s;
  if (s.startsWith(':') || !s.includes('/')) return { route: s, opts };
  const slash = s.indexOf('/');
  return { route: `${goExpand(s.slice(0, slash), env).toLowerCase()}/${goExpand(s.slice(slash + 1), env)}`, opts };
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is rejected
const RE_UNSAFE = /["\x00-\x1f\x7f]/;

/** Route commands for one service instance, in tag order (sort with sortRouteLines). */
export function serviceRouteCommands(inst: ServiceInstance): { lines: string[]; warnings: TagWarning[] } {
  const warnings: TagWarning[] = [];
  const svcTags: string[] = [];
  const routeTags: string[] = [];
  for (const raw of inst.tags) {
    const t = raw.trim();
    if (t.startsWith(inst.tagPrefix)) routeTags.push(t);
    else if (RE_UNSAFE.test(t))
      warnings.push({ tag: raw, message: 'service tag contains a quote or control character; tag ignored' });
    else svcTags.push(t);
  }
  const lines: string[] = [];
  const addr = joinHostPort(inst.addr, inst.port);
  for (const tag of routeTags) {
    const p = parseURLPrefixTag(tag, inst.tagPrefix, inst.env);
    if (p === undefined) continue;
    let dst = `http://${addr}/`;
    let weight = '';
    const ropts: string[] = [];
    let bad: string | undefined;
    for (const o of p.opts.split(/\s+/)) {
      if (o === '') continue;
      if (o === 'proto=tcp') dst = `tcp://${addr}`;
      else if (o === 'proto=https') dst = `https://${addr}`;
      else if (o === 'proto=grpcs') dst = `grpcs://${addr}`;
      else if (o === 'proto=grpc') dst = `grpc://${addr}`;
      else if (o.startsWith('weight=')) weight = o.slice('weight='.length);
      else if (o.startsWith('redirect=')) {
        const redir = o.slice('redirect='.length).split(',');
        if (redir.length === 2) {
          dst = redir[1] as string;
          ropts.push(`redirect=${redir[0]}`);
        } else bad = `Invalid syntax for redirect: ${o}. should be redirect=<code>,<url>`;
      } else ropts.push(o);
    }
    if (bad !== undefined) {
      warnings.push({ tag, message: bad });
      continue;
    }
    let line = `route add ${inst.service} ${p.route} ${dst}`;
    if (weight !== '') line += ` weight ${weight}`;
    if (svcTags.length > 0) line += ` tags ${goQuote(svcTags.join(','))}`;
    if (ropts.length > 0) line += ` opts ${goQuote(ropts.join(' '))}`;
    const why = checkLine(line, inst.service, p.route, dst, RE_UNSAFE.test(tag));
    if (why !== undefined) {
      warnings.push({ tag, message: why });
      continue;
    }
    lines.push(line);
  }
  return { lines, warnings };
}

/** The generated line must parse back into the same command, or it would break the whole table. */
function checkLine(line: string, service: string, src: string, dst: string, unsafe: boolean): string | undefined {
  if (unsafe) return 'route tag contains a quote or control character; tag skipped';
  try {
    const [d] = parseRouteText(line);
    if (d === undefined || d.service !== service || d.src !== src || d.dst !== dst)
      return 'tag does not translate into a valid route command; tag skipped';
    const problem = addLineProblem(d, parseTargetURL(dst));
    if (problem !== undefined) return `${problem}; tag skipped`;
  } catch (err) {
    return `tag does not translate into a valid route command (${(err as Error).message}); tag skipped`;
  }
  return undefined;
}

/** Sorts route lines in reverse lexicographic order, as fabio joins the lines of all services. */
export function sortRouteLines(lines: readonly string[]): string[] {
  return [...lines].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}
