import { applyHunks, commonLines, type Hunk, type TextEdit } from '../routes/index.ts';

export { applyHunks, type Hunk };

/**
 * Route text from the primary to its workers as deltas (issue #17, docs/design.md "Route deltas to
 * the workers"). A catalog change touches the lines of one service, a few lines of a text that may
 * hold 15,000; sending the whole text to every worker on every change cost each worker a
 * deserialisation of the whole text. The primary sends the replaced stretches of the previous
 * text instead (hunks, whole lines), numbered: a worker applies a delta only to the text of the
 * sequence number it names as its base, and checks the result's length. Anything else (a worker
 * just started, a missed message, a length that does not match) makes the worker ask for the whole
 * text, which the primary sends at once: a worker never builds from a text the primary did not have.
 */

export type RoutesMessage =
  | { readonly t: 'routes'; readonly seq: number; readonly text: string }
  | {
      readonly t: 'delta';
      readonly seq: number;
      readonly base: number;
      readonly len: number;
      readonly hunks: readonly Hunk[];
    };

/** Below this many characters a changed stretch is sent as it is, not split further. */
const SPLIT_MIN = 4096;
/** Bisections per delta at most (a text changed all over is sent as a few large hunks, or whole). */
const MAX_DEPTH = 12;

/**
 * The hunks that turn `a` into `b`, in order, on whole lines. The common lines at both ends are
 * cut off; a long changed stretch in between is split at a line of the new text that the old
 * text has too (route texts are sorted, so two services that changed at once lie apart with
 * unchanged lines between them). Any split point gives a correct result; a good one a smaller delta.
 */
export function textHunks(a: string, b: string): Hunk[] {
  const out: Hunk[] = [];
  hunksOf(a, 0, a.length, b, 0, b.length, MAX_DEPTH, out);
  return out;
}

function hunksOf(
  a: string,
  a0: number,
  a1: number,
  b: string,
  b0: number,
  b1: number,
  depth: number,
  out: Hunk[],
): void {
  const sa = a.slice(a0, a1);
  const sb = b.slice(b0, b1);
  if (sa === sb) return;
  const c = commonLines(sa, sb);
  const ma0 = a0 + c.start;
  const ma1 = a1 - c.end;
  const mb0 = b0 + c.start;
  const mb1 = b1 - c.end;
  if (depth > 0 && ma1 - ma0 + (mb1 - mb0) > SPLIT_MIN) {
    // a line from the middle of the new stretch that starts a line in the old stretch too
    const mid = b.lastIndexOf('\n', (mb0 + mb1) >>> 1);
    const ls = mid < mb0 ? mb0 : mid + 1;
    let le = b.indexOf('\n', ls);
    if (le < 0 || le > mb1) le = mb1;
    const line = b.slice(ls, le);
    if (line !== '' && ls > mb0) {
      let at = a.indexOf(line, ma0);
      while (at >= 0 && at < ma1 && !(at === ma0 || a.charCodeAt(at - 1) === 10)) at = a.indexOf(line, at + 1);
      if (at > ma0 && at + line.length <= ma1) {
        hunksOf(a, ma0, at, b, mb0, ls, depth - 1, out);
        hunksOf(a, at, ma1, b, ls, mb1, depth - 1, out);
        return;
      }
    }
  }
  out.push({ at: ma0, del: ma1 - ma0, ins: b.slice(mb0, mb1) });
}

/** The primary's side: numbers each text and describes it as a delta of the one before. */
export class RouteTextSender {
  #seq = 0;
  #text: string | undefined;

  constructor(text?: string) {
    this.#text = text;
  }

  get seq(): number {
    return this.#seq;
  }

  /**
   * The message for a new text (a delta when one is smaller than the text). `edits`: how the text
   * was made (the registry's edits the table was built from); one edit of the text sent before is
   * sent as it is, without comparing the two texts.
   */
  next(text: string, edits?: readonly TextEdit[]): RoutesMessage {
    const prev = this.#text;
    this.#seq++;
    this.#text = text;
    if (prev === undefined) return { t: 'routes', seq: this.#seq, text };
    const e = edits?.length === 1 ? edits[0] : undefined;
    const hunks = e !== undefined && e.base === prev ? e.hunks : textHunks(prev, text);
    let size = 0;
    for (const h of hunks) size += h.ins.length + 32;
    if (size >= text.length) return { t: 'routes', seq: this.#seq, text };
    return { t: 'delta', seq: this.#seq, base: this.#seq - 1, len: text.length, hunks };
  }

  /** The whole current text (a worker's start or resync); undefined before the first text. */
  full(): RoutesMessage | undefined {
    return this.#text === undefined ? undefined : { t: 'routes', seq: this.#seq, text: this.#text };
  }
}

/** The worker's side: the text it has and the sequence number it belongs to. */
export class RouteTextReceiver {
  #seq = -1;
  #text: string | undefined;
  #edit: TextEdit | undefined;

  /** How the last text received was made from the one before (a delta), for the worker's build. */
  get edit(): TextEdit | undefined {
    return this.#edit;
  }

  get seq(): number {
    return this.#seq;
  }

  get text(): string | undefined {
    return this.#text;
  }

  /**
   * The new text, or 'resync' when the message cannot be applied to the text this worker has
   * (the worker then asks for the whole text and keeps serving its current table meanwhile).
   */
  receive(m: RoutesMessage): string | 'resync' {
    if (m.t === 'routes') {
      this.#seq = m.seq;
      this.#text = m.text;
      this.#edit = undefined;
      return m.text;
    }
    if (this.#text === undefined || m.base !== this.#seq) return 'resync';
    const next = applyHunks(this.#text, m.hunks);
    if (next.length !== m.len) return 'resync';
    this.#edit = { base: this.#text, hunks: m.hunks };
    this.#seq = m.seq;
    this.#text = next;
    return next;
  }
}
