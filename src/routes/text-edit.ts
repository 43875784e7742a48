import { commonPrefix, commonSuffix } from './build-memo.ts';
/**
 * Edits of a route text (issue #17, docs/design.md "Route text edits"): what a change replaced,
 * handed along with the new text so that each later stage (the table updater's diff, the
 * incremental build's line index, the deltas to the workers) works on the replaced stretch
 * instead of rediscovering it in the whole text. The text stays the contract: an edit only says
 * how the text was made from the one before.
 */

/** Replace `del` characters of the old text at `at` with `ins`. */
export interface Hunk {
  readonly at: number;
  readonly del: number;
  readonly ins: string;
}

/**
 * `text` = the hunks applied to `base` (hunks in order, not overlapping, offsets into `base`).
 * A consumer uses it only when `base` is the very text it holds (checked by the consumer).
 */
export interface TextEdit {
  readonly base: string;
  readonly hunks: readonly Hunk[];
}

/** `text` with the hunks applied (hunks in order, not overlapping). */
export function applyHunks(text: string, hunks: readonly Hunk[]): string {
  let out = '';
  let pos = 0;
  for (const h of hunks) {
    out += text.slice(pos, h.at) + h.ins;
    pos = h.at + h.del;
  }
  return out + text.slice(pos);
}

/**
 * The whole lines two texts share at the start and at the end: both texts equal
 * `before.slice(0, start)` up to `start` and `before.slice(before.length - end)` over their last `end`
 * characters. Cuts are made only at a newline inside the common part, so every dropped line is the
 * same line in both texts.
 */
export function commonLines(before: string, after: string): { start: number; end: number } {
  const p = commonPrefix(before, after);
  const start = p === 0 ? 0 : before.lastIndexOf('\n', p - 1) + 1;
  const a = before.slice(start);
  const s = commonSuffix(a, after.slice(start));
  const nl = s > 0 ? a.indexOf('\n', a.length - s) : -1;
  return { start, end: nl < 0 ? 0 : a.length - nl };
}
