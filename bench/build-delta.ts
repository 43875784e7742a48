/**
 * CPU of an incremental table build when one line of a 15,000-line text changes (issue #17,
 * docs/design.md "Route deltas"): path-only routes (every `urlprefix-/path` tag on host '') and one
 * host per service, and path-only with two manual overrides after the service routes. process.cpuUsage() over 50 builds after 10 warm-up builds.
 *
 *   npx tsx bench/build-delta.ts [--services 5000] [--builds 50]
 */
import { parseArgs } from 'node:util';
import { buildTable } from '../src/routes/index.ts';
import type { BuildOptions } from '../src/routes/types.ts';

const { values: args } = parseArgs({
  options: { services: { type: 'string', default: '5000' }, builds: { type: 'string', default: '50' } },
});
const services = Number(args.services);
const builds = Number(args.builds);
const opts: BuildOptions = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 };
for (const [hosted, override] of [
  [false, false],
  [true, false],
  [false, true],
] as const) {
  const lines: string[] = [];
  for (let s = 0; s < services; s++)
    for (let i = 0; i < 3; i++)
      lines.push(
        `route add svc-${s} ${hosted ? `svc${s}.example.com` : ''}/svc-${s} http://10.0.${i}.${s % 250}:${8000 + (s % 1000)}/ tags "a,b"`,
      );
  lines.sort().reverse();
  // manual overrides (KV) after the service routes, as the registry writes them
  const tailText = override ? '\nroute weight svc-7 /svc-7 weight 0.5 tags "a"\nroute del svc-9' : '';
  const texts: string[] = [];
  for (let k = 0; k < builds + 10; k++) {
    const i = (k * 37) % lines.length;
    const copy = lines.slice();
    copy[i] = (copy[i] as string).replace(/:(\d+)\//, (_m, p) => `:${Number(p) + 1 + k}/`);
    texts.push(copy.join('\n') + tailText);
  }
  let t = buildTable(lines.join('\n') + tailText, opts);
  for (let k = 0; k < 10; k++) t = buildTable(texts[k] as string, opts, t);
  const c0 = process.cpuUsage();
  for (let k = 10; k < builds + 10; k++) t = buildTable(texts[k] as string, opts, t);
  const c = process.cpuUsage(c0);
  console.log(
    `${hosted ? 'one host per service' : 'path-only, host ""  '}${override ? ' + 2 overrides' : '              '}  ${lines.length} lines, 1 changed: ${((c.user + c.system) / builds / 1000).toFixed(2)} ms CPU per build`,
  );
}
