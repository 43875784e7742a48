import { RouteSyntaxError } from './errors.ts';
import type { Warning } from './types.ts';

/**
 * Bad lines of a route text built with `skipBadLines` (the proxy's tables). fabio stops at the
 * first line that does not parse or apply and keeps the previous table, so one bad KV line or tag
 * freezes every route until someone fixes it. With `skipBadLines` such a line is left out and
 * reported as a table warning that names where it came from; the rest of the table is built.
 */

/** The comment the Consul backend writes before each KV key's overrides (`# --- fabio/config`). */
const KV_SOURCE_MARK = '# --- ';

const RE_GENERAL = /^route[\t\n\f\r ]+(del|weight)/;

/**
 * Whether a line that has no `route add` source could still be a valid `route del`/`route weight`
 * (which makes the build take its general path). Anything else without a source never parses.
 */
export function mayBeGeneralCommand(line: string): boolean {
  return RE_GENERAL.test(line);
}

/** The service field of a command line (`route add <service> ...`), '' when there is none. */
export function serviceOf(line: string): string {
  const f = line.split(/[\t\n\f\r ]+/);
  return f[0] === 'route' && (f[1] === 'add' || f[1] === 'del' || f[1] === 'weight') ? (f[2] ?? '') : '';
}

/** 1-based line number of offset `pos` in `text`. */
function lineAt(text: string, pos: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < pos; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Where line `n` (starting at offset `start`) came from: a KV key (with its own line) or a service. */
export function lineSource(text: string, start: number, n: number, service: string): string {
  let m = start > 0 ? text.lastIndexOf(`\n${KV_SOURCE_MARK}`, start - 1) : -1;
  if (m >= 0) m++;
  else if (text.startsWith(KV_SOURCE_MARK) && start > 0) m = 0;
  if (m >= 0) {
    const end = text.indexOf('\n', m);
    const key = text.slice(m + KV_SOURCE_MARK.length, end < 0 ? text.length : end).trim();
    return `KV key ${key} line ${n - lineAt(text, m)}`;
  }
  return service !== '' ? `service ${service}` : 'route text';
}

/** The warning for a skipped line: `line N: <reason>; line skipped (<source>)`. */
export function skippedLine(text: string, line: string, n: number, start: number, err: unknown): Warning {
  const reason = err instanceof RouteSyntaxError ? err.reason : err instanceof Error ? err.message : String(err);
  const service = serviceOf(line);
  return { line: n, service, message: `line ${n}: ${reason}; line skipped (${lineSource(text, start, n, service)})` };
}

export const byLine = (a: Warning, b: Warning): number => a.line - b.line;
