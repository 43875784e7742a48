// What keeping table texts for "explain against version N" costs the admin server: CPU per swap
// (TableVersions.swapped + tag, process.cpuUsage) and the heap kept for 100 versions where each
// change touches one line, at 500 and 10,000 routes; then one rebuild of an old version. Run:
//   node --expose-gc --import tsx bench/ui-versions.ts
import type { HistoryEntry } from '../src/registry/types.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableVersions } from '../src/ui/versions.ts';
import { BUILD } from '../test/ui/helpers.ts';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

for (const n of [500, 10_000]) {
  const lines = Array.from(
    { length: n },
    (_, i) => `route add svc${i} host${i % 50}.example/p${i} http://10.${(i >> 8) & 255}.${i & 255}.1:8080/`,
  );
  // 100 texts, each differing from the previous in one line (a weight override rewritten)
  const texts = Array.from(
    { length: 101 },
    (_, v) => `${lines.join('\n')}\nroute weight svc0 host0.example/p0 weight 0.${v % 9}`,
  );
  // tables built beforehand: only the versions' own work is measured
  const tables = texts.map((t) => ({ source: t }) as ReturnType<typeof buildTable>);
  const history: HistoryEntry[] = [];
  const h0 = heap();
  const v = new TableVersions();
  const c0 = process.cpuUsage();
  for (let i = 0; i < tables.length; i++) {
    v.swapped(tables[i]!, history);
    history.push({ time: '', cause: 'bench', index: i, added: [], removed: [] });
    if (history.length > 100) history.shift();
    v.tag(history);
  }
  const c = process.cpuUsage(c0);
  const kept = heap() - h0;
  const t0 = process.cpuUsage();
  const r = v.lookup(2, undefined, (text) => buildTable(text, BUILD));
  const t = process.cpuUsage(t0);
  console.log(
    `${n} routes, 101 swaps: ${((c.user + c.system) / 1000 / tables.length).toFixed(2)} ms CPU per swap; ` +
      `${(kept / 1e6).toFixed(1)} MB heap kept for ${tables.length} versions ` +
      `(one text: ${(texts[0]!.length / 1e6).toFixed(2)} MB, ${(v.keptChars / 1e6).toFixed(2)} MB of older versions kept); ` +
      `rebuilding version 2 (${r.kind}): ${((t.user + t.system) / 1000).toFixed(0)} ms CPU`,
  );
  texts.length = 0;
}
