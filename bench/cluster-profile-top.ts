/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and self time
 * per source file, as shares of all samples. Used for the "Profile findings" of bench/README.md.
 *
 *   npx tsx bench/cluster-profile-top.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

export function summarise(p: Profile, top = 30): string[] {
  const byId = new Map<number, Node>();
  for (const n of p.nodes) byId.set(n.id, n);
  // Self time per node: sum of the time deltas attributed to each sample of that node.
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0));
  }
  let total = 0;
  for (const v of self.values()) total += v;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/');
    const short = url === '' ? '(native)' : url;
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${short}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    file.set(short, (file.get(short) ?? 0) + us);
  }
  const pct = (v: number) => `${((100 * v) / total).toFixed(1).padStart(5)}%`;
  const out = [`total ${(total / 1e6).toFixed(2)} s sampled`, '', 'self time by function:'];
  for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`${pct(v)}  ${k}`);
  out.push('', 'self time by file:');
  for (const [k, v] of [...file].sort((a, b) => b[1] - a[1]).slice(0, top)) out.push(`${pct(v)}  ${k}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = process.argv[2];
  if (!f) {
    console.error('usage: tsx bench/cluster-profile-top.ts FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  const top = i > 0 ? Number(process.argv[i + 1]) : 30;
  console.log(summarise(JSON.parse(readFileSync(f, 'utf8')) as Profile, top).join('\n'));
}
