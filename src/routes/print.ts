import { goQuote } from '../go/quote.ts';
import type { HostEntry } from './compiled.ts';
import { parseTargetURL } from './target-url.ts';
import type { Target } from './types.ts';

/**
 * Table text and tree dump (fabio-reference (b) serialisation and (f) detail format).
 */

/** Go's %.4f: toFixed rounds exact ties up, Go rounds them to even; ties need a check. */
function formatFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  const scaled = x * 10 ** digits;
  // an exact binary tie (e.g. 0.03125 at 4 digits) is the only place they differ
  if (
    Number.isFinite(scaled) &&
    Math.abs(scaled) < 2 ** 52 &&
    scaled - Math.trunc(scaled) === 0.5 * Math.sign(scaled)
  ) {
    const lo = Math.trunc(scaled);
    const even = lo % 2 === 0 ? lo : lo + Math.sign(scaled);
    return (even / 10 ** digits).toFixed(digits);
  }
  return s;
}

/** One `route add` line for a target with its effective weight. */
export function targetLine(host: string, path: string, t: Target): string {
  let s = `route add ${t.service} ${host}${path} ${t.url} weight ${formatFixed(t.weight, 4)}`;
  if (t.tags.length > 0) s += ` tags ${goQuote(t.tags.join(','))}`;
  const keys = Object.keys(t.opts).sort();
  if (keys.length > 0) s += ` opts "${keys.map((k) => `${k}=${t.opts[k]}`).join(' ')}"`;
  return s;
}

/** Table text: hosts descending with host-less last, paths descending, zero weights omitted. */
export function printTable(byKey: ReadonlyMap<string, HostEntry>): string {
  const hosts = [...byKey.keys()]
    .filter((h) => h !== '')
    .sort()
    .reverse();
  hosts.push('');
  const lines: string[] = [];
  for (const h of hosts) {
    for (const r of byKey.get(h)?.routes ?? []) {
      for (const t of r.targets) if (t.weight > 0) lines.push(targetLine(r.host, r.path, t));
    }
  }
  return lines.join('\n');
}

/** fabio's ASCII tree (log.routes.format=detail): hosts ascending, paths descending. */
export function dumpTable(byKey: ReadonlyMap<string, HostEntry>): string {
  const hosts = [...byKey.keys()].sort();
  let out = '';
  hosts.forEach((h, i) => {
    out += `+-- host=${h}\n`;
    const p0 = i === hosts.length - 1 ? '    ' : '|   ';
    const routes = byKey.get(h)?.routes ?? [];
    routes.forEach((r, j) => {
      const lastRoute = j === routes.length - 1;
      out += `${p0}${lastRoute ? '+-- ' : '|-- '}path=${r.path}\n`;
      const p1 = lastRoute ? '    ' : '|    ';
      const total = r.ring.length;
      const slots = r.targets.map(() => 0);
      for (const i of r.ring) slots[i] = (slots[i] as number) + 1;
      const shown = r.targets.map((t, k) => ({ t, n: slots[k] ?? 0 })).filter((x) => x.n > 0);
      shown.forEach(({ t, n }, k) => {
        const p2 = k === shown.length - 1 ? '+-- ' : '|-- ';
        // the authority as written (the table keeps no parsed URL for non-redirect targets)
        const addr = parseTargetURL(t.url).host;
        out += `${p0}${p1}${p2}addr=${addr} weight ${formatFixed(n / total, 2)} slots ${n}/${total}\n`;
      });
    });
  });
  return out;
}
