/**
 * Route-change log lines (fabio-reference section (f)) and the line diff behind them.
 *
 *   delta:  `Config updates\n+ route add ...\n- route add ...`  (changed raw lines)
 *   all:    `Updated config to\n<raw route text>`
 *   detail: `Updated config to\n<table dump>`
 */

import { commonLines, type TextEdit } from '../routes/index.ts';

export type RoutesFormat = 'delta' | 'all' | 'detail';

export interface LineDiff {
  readonly added: string[];
  readonly removed: string[];
  /** `+ line` / `- line` in text order (removals before additions at the same place). */
  readonly lines: string[];
}

/** Above this many cells of the LCS matrix the diff falls back to a multiset compare (route texts of 100k lines). */
const LCS_LIMIT = 4_000_000;

export const split = (text: string): string[] => (text === '' ? [] : text.split('\n')).map((l) => l.replace(/\r$/, ''));

/**
 * Line diff of two route texts. Blank lines are left out of the result: they carry no route and
 * only move when the manual part grows or shrinks.
 */
export function lineDiff(before: string, after: string): LineDiff {
  // A change usually touches a few lines of a long text (15,000 lines at 5,000 services × 3):
  // whole lines inside the texts' common prefix and suffix are dropped before splitting.
  const c = commonLines(before, after);
  return diffLines(
    split(before.slice(c.start, before.length - c.end)),
    split(after.slice(c.start, after.length - c.end)),
  );
}

/**
 * lineDiff(edit.base, the edited text) from the edit alone (O(changed lines)): each hunk widened
 * to the whole lines it touches, the old and new lines of each compared as lineDiff compares the
 * middle of two texts. The hunks of a route text are apart, with unchanged lines between them.
 */
export function editDiff(edit: TextEdit): LineDiff {
  const base = edit.base;
  const out: LineDiff = { added: [], removed: [], lines: [] };
  for (const h of edit.hunks) {
    const s = h.at === 0 ? 0 : base.lastIndexOf('\n', h.at - 1) + 1;
    const nl = base.indexOf('\n', h.at + h.del);
    const e = nl < 0 ? base.length : nl;
    const d = diffLines(split(base.slice(s, e)), split(base.slice(s, h.at) + h.ins + base.slice(h.at + h.del, e)));
    out.added.push(...d.added);
    out.removed.push(...d.removed);
    out.lines.push(...d.lines);
  }
  return out;
}

/** The line diff of two texts split into lines (lineDiff without its common-lines shortcut). */
export function diffLines(a: readonly string[], b: readonly string[]): LineDiff {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ma = a.slice(start, endA);
  const mb = b.slice(start, endB);
  const ops: ['+' | '-', string][] = [];
  if (ma.length * mb.length <= LCS_LIMIT) lcsOps(ma, mb, ops);
  else multisetOps(ma, mb, ops);
  const added: string[] = [];
  const removed: string[] = [];
  const lines: string[] = [];
  for (const [op, line] of ops) {
    if (line.trim() === '') continue;
    (op === '+' ? added : removed).push(line);
    lines.push(`${op} ${line}`);
  }
  return { added, removed, lines };
}

function lcsOps(a: string[], b: string[], ops: ['+' | '-', string][]): void {
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = LCS length of a[i:] and b[j:], stored row-major in one array
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * w + j + 1] as number) + 1
          : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      i++;
      j++;
    } else if ((lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number)) ops.push(['-', a[i++] as string]);
    else ops.push(['+', b[j++] as string]);
  }
  while (i < n) ops.push(['-', a[i++] as string]);
  while (j < m) ops.push(['+', b[j++] as string]);
}

function multisetOps(a: string[], b: string[], ops: ['+' | '-', string][]): void {
  const count = new Map<string, number>();
  for (const l of b) count.set(l, (count.get(l) ?? 0) + 1);
  const kept = new Map<string, number>();
  for (const l of a) {
    const c = count.get(l) ?? 0;
    if (c > 0) {
      count.set(l, c - 1);
      kept.set(l, (kept.get(l) ?? 0) + 1);
    } else ops.push(['-', l]);
  }
  for (const l of b) {
    const k = kept.get(l) ?? 0;
    if (k > 0) kept.set(l, k - 1);
    else ops.push(['+', l]);
  }
}

/**
 * The log message (without `[INFO] `) for a new table, or undefined when nothing is to be logged
 * (delta format with no changed line).
 */
export function routeLogMessage(
  format: RoutesFormat,
  diff: LineDiff,
  text: string,
  dump: () => string,
): string | undefined {
  switch (format) {
    case 'all':
      return `Updated config to\n${text}`;
    case 'detail':
      return `Updated config to\n${dump()}`;
    default:
      return diff.lines.length === 0 ? undefined : `Config updates\n${diff.lines.join('\n')}`;
  }
}
