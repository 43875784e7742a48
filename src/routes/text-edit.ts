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
