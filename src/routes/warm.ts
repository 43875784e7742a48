import { buildTable } from './build.ts';
import type { BuildOptions, Table } from './types.ts';

/**
 * Rounds after a process's first table (each builds twice). With 5, a new worker's one-line
 * builds at 5,000 × 3 were 11-62 ms under load against 16-230 ms without.
 */
export const WARM_ROUNDS = 5;

/**
 * Runs the incremental build a few times on a copy of `table` so that its code is compiled before
 * the first real catalog change arrives. A process builds rarely (once per change), so without
 * this every change of a fresh process or worker ran the edit path in the interpreter: a one-line
 * change of a 15,000-line table took 22-58 ms in a new worker against ~2 ms warm (bench/README.md,
 * "Propagation, second session"). Each round takes a `route add` line from the middle of the text
 * out and puts it back, as a catalog flap does, through the same edits the registry sends.
 *
 * The tables built here are dropped; the round-robin counters are not shared with the live build
 * (a private map), so balancing is untouched. Best effort: a text without a `route add` line is
 * left as it is, and nothing here throws.
 */
export function warmBuilds(table: Table, opts: BuildOptions, rounds: number): void {
  const text = table.source;
  const at = middleLine(text);
  if (at === undefined) return;
  const end = text.indexOf('\n', at);
  const cut = end < 0 ? text.length : end + 1;
  const line = text.slice(at, cut);
  const without = text.slice(0, at) + text.slice(cut);
  const o: BuildOptions = { ...opts, counters: new Map() };
  try {
    let t = table;
    for (let i = 0; i < rounds; i++) {
      const out = buildTable(without, o, t, [{ base: text, hunks: [{ at, del: line.length, ins: '' }] }]);
      t = buildTable(text, o, out, [{ base: without, hunks: [{ at, del: 0, ins: line }] }]);
    }
  } catch {
    // a text this process could build once builds again; nothing to report from a warm-up
  }
}

/** Offset of a `route add` line at or after the middle of the text (or before it). */
function middleLine(text: string): number | undefined {
  const mid = text.lastIndexOf('\n', text.length >>> 1) + 1;
  const after = text.indexOf('\nroute add ', mid - 1);
  if (after >= 0) return after + 1;
  if (text.startsWith('route add ')) return 0;
  const before = text.lastIndexOf('\nroute add ', mid);
  return before >= 0 ? before + 1 : undefined;
}
