/**
 * CPU of an incremental table build when one line of a 15,000-line text changes (issue #17,
 * docs/design.md "Route deltas"): path-only routes (every `urlprefix-/path` tag on host '') and one
 * host per service, and path-only with two manual overrides after the service routes. process.cpuUsage() over 50 builds after 10 warm-up builds.
 *
 *   npx tsx bench/build-delta.ts [--services 5000] [--builds 50] [--edits]
 *
 * --edits: each build also gets the text's edit (whole-line hunks of the text before, as the
 * registry hands them along), and a fourth row flaps one host out and back in (a service losing
 * its last healthy instance), as bench/propagation.ts does.
 */
import { parseArgs } from 'node:util';
import { buildTable } from '../src/routes/index.ts';
import type { BuildOptions, Table } from '../src/routes/types.ts';
import { textHunks } from '../src/runtime/route-sync.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '5000' },
    builds: { type: 'string', default: '50' },
    edits: { type: 'boolean', default: false },
  },
});
const services = Number(args.services);
const builds = Number(args.builds);
const opts: BuildOptions = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 1000 };
const withEdits = args.edits === true;
for (const [hosted, override, flapHost] of [
  [false, false, false],
  [true, false, false],
  [false, true, false],
  ...(withEdits ? ([[true, false, true]] as const) : []),
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
    if (flapHost) {
      // the probe host's line is there every other build (its service flapping to no instance)
      if (k % 2 === 0) copy.splice(lines.length >>> 1, 0, 'route add probe probe.example.com/ http://10.9.9.9:80/');
    } else copy[i] = (copy[i] as string).replace(/:(\d+)\//, (_m, p) => `:${Number(p) + 1 + k}/`);
    texts.push(copy.join('\n') + tailText);
  }
  const first = lines.join('\n') + tailText;
  // the edits are made before the clock starts (the registry makes them, bench/propagation.ts)
  const edits = texts.map((x, k) => [
    {
      base: k === 0 ? first : (texts[k - 1] as string),
      hunks: textHunks(k === 0 ? first : (texts[k - 1] as string), x),
    },
  ]);
  const build = (k: number, prev: Table) =>
    buildTable(texts[k] as string, opts, prev, withEdits ? edits[k] : undefined);
  let t = buildTable(first, opts);
  for (let k = 0; k < 10; k++) t = build(k, t);
  const c0 = process.cpuUsage();
  for (let k = 10; k < builds + 10; k++) t = build(k, t);
  const c = process.cpuUsage(c0);
  const what = flapHost
    ? 'one host per service, one host out/in'
    : hosted
      ? 'one host per service'
      : 'path-only, host ""  ';
  console.log(
    `${what}${override ? ' + 2 overrides' : '              '}  ${lines.length} lines, 1 changed${withEdits ? ' (with edits)' : ''}: ${((c.user + c.system) / builds / 1000).toFixed(2)} ms CPU per build`,
  );
}
