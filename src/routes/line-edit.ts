import type { Chain, LineIndex, LineInts } from './build-memo.ts';
import { addSource, forEachLineFrom, hostOf } from './build-memo.ts';
import { hostPath } from './model.ts';
import { MovedChains, type Moves } from './moved-chains.ts';
import { bound } from './sorted.ts';
import type { Hunk, TextEdit } from './text-edit.ts';

/**
 * The previous build's line index carried through the edits of its text (issue #17, docs/design.md
 * "Route text edits"): the lines outside the replaced stretches are the previous index's lines,
 * moved (offsets, numbers and indexes shifted in a pass over integer arrays); only the lines of
 * the stretches are scanned for their host. Without this every build sliced, trimmed and scanned
 * every line of the text (150,000 at 50,000 services × 3) to group the lines by host.
 */

/** What editLineIndex made: the index of the new text and the hosts with a line in a stretch. */
export interface EditedLines {
  readonly ix: LineIndex & { readonly texts: string[]; readonly nums: LineInts };
  /** Hosts with a line removed or added by the edits (in either text). */
  readonly touched: Set<string>;
}

/** One hunk widened to whole lines of the old text: old [s, e) became `region`. */
interface Stretch {
  readonly s: number;
  readonly e: number;
  readonly region: string;
  /** Old line indexes [a, b) are the lines of [s, e). */
  readonly a: number;
  readonly b: number;
}

const countNewlines = (t: string, from: number, to: number): number => {
  let n = 0;
  for (let i = t.indexOf('\n', from); i >= 0 && i < to; i = t.indexOf('\n', i + 1)) n++;
  return n;
};

/** First line index whose start is at or after `pos` (starts ascending). */
const firstFrom = (starts: LineInts, pos: number): number => bound(starts, pos, (a, b) => a - b);

/**
 * The hunks widened to whole lines of `base`, each inside the grouped lines (before the first
 * override); undefined when one is not (the caller groups every line instead).
 */
function stretches(prev: LineIndex, base: string, hunks: readonly Hunk[]): Stretch[] | undefined {
  const n = prev.starts.length;
  if (n === 0) return undefined;
  const limit = (prev.ends[n - 1] as number) + 1; // after the last grouped line's newline
  const out: Stretch[] = [];
  let last = 0;
  for (const h of hunks) {
    if (h.at < last || h.del < 0 || h.at + h.del > base.length) return undefined;
    const s = h.at === 0 ? 0 : base.lastIndexOf('\n', h.at - 1) + 1;
    const q = h.at + h.del;
    let head = base.slice(s, h.at) + h.ins;
    let e = q;
    // the stretch ends at a line end: q when q starts a line and the new part ends one
    if (!(q === base.length || ((q === 0 || base.charCodeAt(q - 1) === 10) && (head === '' || head.endsWith('\n'))))) {
      const nl = base.indexOf('\n', q);
      e = nl < 0 ? base.length : nl + 1;
      head += base.slice(q, e);
    }
    if (s < last || e > limit) return undefined;
    out.push({ s, e, region: head, a: firstFrom(prev.starts, s), b: firstFrom(prev.starts, e) });
    last = e;
  }
  return out;
}

/**
 * The line index of `text`, made from `prev` (the index of `edits[0].base`) and the edits, which
 * turn that text into `text` one after the other. Undefined when an edit reaches past the grouped
 * lines (into the overrides), a line of a stretch is not `route add`, or the edited text is not
 * `text` where the stretches are (checked): the caller then groups every line.
 */
export function editLineIndex(
  prev: LineIndex,
  text: string,
  edits: readonly TextEdit[],
  revisit: ReadonlySet<string>,
): EditedLines | undefined {
  // a host left out of the index although the text has lines of it has no chain to carry
  for (const h of revisit) if (!prev.hosts.has(h)) return undefined;
  const touched = new Set<string>();
  let ix = prev;
  for (let k = 0; k < edits.length; k++) {
    const edit = edits[k] as TextEdit;
    const next = k + 1 < edits.length ? (edits[k + 1] as TextEdit).base : text;
    if (edit.base !== ix.text) return undefined;
    const out = applyEdit(ix, next, edit.hunks, touched, revisit);
    if (out === undefined) return undefined;
    ix = out;
  }
  if (ix === prev || ix.texts === undefined || ix.nums === undefined) return undefined;
  return { ix: ix as EditedLines['ix'], touched };
}

/** Old lines [from, to) carried whole into the edited index, their offsets and numbers shifted. */
interface Kept {
  readonly from: number;
  readonly to: number;
  readonly dOff: number;
  readonly dNum: number;
}

/** The lines of one stretch, scanned anew. */
interface Scanned {
  readonly starts: number[];
  readonly ends: number[];
  readonly texts: string[];
  readonly nums: number[];
}

/** One edit (see editLineIndex): the index of `text` = `prev.text` with the hunks applied. */
function applyEdit(
  prev: LineIndex,
  text: string,
  hunks: readonly Hunk[],
  touched: Set<string>,
  revisit: ReadonlySet<string>,
): LineIndex | undefined {
  const texts0 = prev.texts;
  const nums0 = prev.nums;
  if (texts0 === undefined || nums0 === undefined) return undefined;
  const base = prev.text;
  const parts = stretches(prev, base, hunks);
  if (parts === undefined) return undefined;
  const n0 = prev.starts.length;
  // the new index in pieces (kept runs of old lines, scanned stretches), written out once at the end
  const pieces: (Kept | Scanned)[] = [];
  let len = 0;
  /** Old line index → new one (-1: removed). */
  const moved = new Int32Array(n0);
  /** New lines by host, in order (new indexes). */
  const added = new Map<string, number[]>();
  /** The kept runs as (from, to, d) triples: the Moves of the chains (moved-chains.ts). */
  const runs: number[] = [];
  let dOff = 0;
  let dNum = 0;
  let from = 0;
  const keep = (to: number): void => {
    if (to <= from) return;
    for (let i = from, d = len - from; i < to; i++) moved[i] = i + d;
    pieces.push({ from, to, dOff, dNum });
    runs.push(from, to, len - from);
    len += to - from;
  };
  for (const p of parts) {
    keep(p.a);
    for (let i = p.a; i < p.b; i++) {
      moved[i] = -1;
      touched.add(hostOf(texts0[i] as string));
    }
    const s = p.s + dOff;
    if (!text.startsWith(p.region, s)) return undefined;
    // the line number of the stretch's first line: counted from the last line before it
    const n =
      dNum +
      (p.a > 0
        ? (nums0[p.a - 1] as number) + countNewlines(base, prev.ends[p.a - 1] as number, p.s)
        : 1 + countNewlines(base, 0, p.s));
    const run: Scanned = { starts: [], ends: [], texts: [], nums: [] };
    let bad = false;
    forEachLineFrom(p.region, 0, n, (line, num, ls, le) => {
      const src = addSource(line);
      if (src === undefined) {
        bad = true;
        return;
      }
      const host = hostPath(src)[0];
      touched.add(host);
      let l = added.get(host);
      if (l === undefined) added.set(host, (l = []));
      l.push(len + run.starts.length);
      run.starts.push(s + ls);
      run.ends.push(s + le);
      run.texts.push(line);
      run.nums.push(num);
    });
    if (bad) return undefined;
    pieces.push(run);
    len += run.starts.length;
    dOff += p.region.length - (p.e - p.s);
    dNum += countNewlines(p.region, 0, p.region.length) - countNewlines(base, p.s, p.e);
    from = p.b;
  }
  keep(n0);
  if (text.length !== base.length + dOff) return undefined;
  const out = writePieces(prev, texts0, nums0, pieces, len);
  const { nexts, hosts } = relink(prev, moved, Int32Array.from(runs), added, len, touched, revisit);
  return { text, ...out, nexts, hosts, gen: (prev.gen ?? 0) + 1 };
}

/**
 * The edited index's arrays, each made once at its full length: Int32Arrays (text offsets and
 * line numbers fit) and one array of line texts. Making them from copies of the kept runs joined
 * afterwards allocated each twice: at 150,000 lines, ~14 MB of large objects per change, which
 * V8 takes as fresh pages each time (page faults, and old-generation growth toward a major GC).
 */
function writePieces(
  prev: LineIndex,
  texts0: readonly string[],
  nums0: LineInts,
  pieces: readonly (Kept | Scanned)[],
  len: number,
): { starts: Int32Array; ends: Int32Array; texts: string[]; nums: Int32Array } {
  const starts = new Int32Array(len);
  const ends = new Int32Array(len);
  const nums = new Int32Array(len);
  const texts: string[] = new Array(len);
  const { starts: s0, ends: e0 } = prev;
  let k = 0;
  for (const pc of pieces) {
    if ('texts' in pc) {
      for (let j = 0; j < pc.texts.length; j++, k++) {
        starts[k] = pc.starts[j] as number;
        ends[k] = pc.ends[j] as number;
        nums[k] = pc.nums[j] as number;
        texts[k] = pc.texts[j] as string;
      }
      continue;
    }
    const { dOff, dNum } = pc;
    for (let i = pc.from; i < pc.to; i++, k++) {
      starts[k] = (s0[i] as number) + dOff;
      ends[k] = (e0[i] as number) + dOff;
      nums[k] = (nums0[i] as number) + dNum;
      texts[k] = texts0[i] as string;
    }
  }
  return { starts, ends, texts, nums };
}

/**
 * The links and chains of the edited index. Every kept line keeps its link (moved); a host with
 * added or removed lines (`touched` holds both kinds) is chained anew from its kept lines and its
 * added ones, merged by index. So is every host the build revisits (`revisit`), as a new object
 * whose pinned flag the build works out again, as it does for every host it visits. The chains of
 * every other host are the previous index's, moved lazily (moved-chains.ts).
 */
function relink(
  prev: LineIndex,
  moved: Int32Array,
  moves: Moves,
  added: ReadonlyMap<string, number[]>,
  n: number,
  touched: ReadonlySet<string>,
  revisit: ReadonlySet<string>,
): { nexts: Int32Array; hosts: LineIndex['hosts'] } {
  const nexts = new Int32Array(n).fill(-1);
  const prevNexts = prev.nexts;
  for (let i = 0; i < moved.length; i++) {
    const m = moved[i] as number;
    const nx = prevNexts[i] as number;
    if (m >= 0 && nx >= 0) nexts[m] = moved[nx] as number;
  }
  const gen = (prev.gen ?? 0) + 1;
  const changes = new Map<string, Chain | undefined>();
  for (const h of revisit) {
    const c = touched.has(h) ? undefined : prev.hosts.get(h);
    if (c !== undefined)
      changes.set(h, {
        head: moved[c.head] as number,
        tail: moved[c.tail] as number,
        count: c.count,
        pinned: false,
        gen,
      });
  }
  for (const h of touched) {
    const kept: number[] = [];
    const c = prev.hosts.get(h);
    if (c !== undefined)
      for (let i = c.head; i >= 0; i = prevNexts[i] as number)
        if ((moved[i] as number) >= 0) kept.push(moved[i] as number);
    const all = mergeAscending(kept, added.get(h) ?? []);
    if (all.length === 0) {
      changes.set(h, undefined);
      continue;
    }
    for (let k = 0; k + 1 < all.length; k++) nexts[all[k] as number] = all[k + 1] as number;
    nexts[all[all.length - 1] as number] = -1;
    changes.set(h, {
      head: all[0] as number,
      tail: all[all.length - 1] as number,
      count: all.length,
      pinned: false,
      gen,
    });
  }
  return { nexts, hosts: MovedChains.next(prev.hosts, prev.gen ?? 0, moves, changes) };
}

function mergeAscending(a: readonly number[], b: readonly number[]): number[] {
  if (b.length === 0) return a as number[];
  if (a.length === 0) return b as number[];
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length)
    out.push(
      j >= b.length || (i < a.length && (a[i] as number) < (b[j] as number)) ? (a[i++] as number) : (b[j++] as number),
    );
  return out;
}
