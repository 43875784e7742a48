import type { Logger } from '../log/logger.ts';
import type { HistoryEntry, RouteTextUpdate, ServiceTagWarning } from '../registry/types.ts';
import type { TextEdit } from '../routes/index.ts';
import type { TableStore } from '../routes/table-store.ts';
import type { Table, Warning } from '../routes/types.ts';
import { History, ownLines } from './history.ts';
import { editDiff, lineDiff, type RoutesFormat, routeLogMessage } from './route-log.ts';

export interface TableUpdaterOptions {
  readonly store: TableStore;
  readonly log: Logger;
  /**
   * Route text → table; main passes a closure over routes.buildTable with its BuildOptions. Throws
   * on invalid text. `prev` is the store's live table, for an incremental build (same options);
   * `edits`, when given, turn the live table's text into `text`, one after the other.
   */
  readonly build: (text: string, prev: Table | undefined, edits?: readonly TextEdit[]) => Table;
  readonly routesFormat: RoutesFormat;
  readonly onSwap?: (t: Table) => void;
  readonly now?: () => Date;
  /** Minimum time between two builds; changes inside it coalesce into one build of the latest text. */
  readonly coalesceMs?: number;
  readonly historySize?: number;
}

/** What the UI shows next to the table: tags that were skipped and build warnings of the live table. */
export interface UpdaterWarnings {
  readonly tags: readonly ServiceTagWarning[];
  readonly table: readonly Warning[];
  /** Error of the last failed build while it is the latest attempt ('' when the live table is current). */
  readonly buildError: string;
}

export interface ChangeEvent {
  /** The history entry; undefined when only the tag warnings changed (same route text). */
  readonly entry: HistoryEntry | undefined;
  /** The live table after the change (unchanged when the build failed). */
  readonly table: Table | undefined;
}

/**
 * Turns route text into live tables. Identical text never rebuilds; a change after a quiet period
 * is applied at once, changes that follow within `coalesceMs` (20 ms) wait and only the latest
 * text is built, so a burst of Consul updates costs two builds, not hundreds. A failed build keeps
 * the previous table, logs `[WARN] <error>` and is recorded in the history.
 */
export class TableUpdater {
  readonly #o: TableUpdaterOptions;
  readonly #history: History;
  readonly #listeners = new Set<(e: ChangeEvent) => void>();
  readonly #coalesceMs: number;
  /** Text of the last build attempt (successful or not). */
  #lastText: string | undefined;
  /** Text of the live table ('' before the first table). */
  #liveText = '';
  #lastBuildAt = Number.NEGATIVE_INFINITY;
  #pending: RouteTextUpdate | undefined;
  /** The edits from the live text to the pending text (undefined: not known). */
  #pendingEdits: TextEdit[] | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tagWarnings: readonly ServiceTagWarning[] = [];
  #buildError = '';
  #loggedTags = new Set<string>();
  #loggedTableWarnings = new Set<string>();
  #resolveFirst!: (t: Table) => void;
  #closed = false;

  /** Resolves with the first table that went live. */
  readonly firstTable: Promise<Table>;

  constructor(opts: TableUpdaterOptions) {
    this.#o = opts;
    this.#coalesceMs = opts.coalesceMs ?? 20;
    this.#history = new History(opts.historySize ?? 100);
    this.firstTable = new Promise((resolve) => {
      this.#resolveFirst = resolve;
    });
  }

  /** Offer new route text. Cheap when the text is unchanged. */
  update(u: RouteTextUpdate): void {
    if (this.#closed) return;
    const warned = u.tagWarnings !== undefined && this.#setTagWarnings(u.tagWarnings);
    if (u.text === this.#lastText && this.#pending === undefined) {
      // the registry sends unchanged text when only the tag warnings changed: show them now
      if (warned) this.#emit({ entry: undefined, table: this.#o.store.current });
      return;
    }
    // an edit of the text before is kept while each update edits the one before it
    const base = this.#pending === undefined ? this.#liveText : this.#pending.text;
    const chain = this.#pending === undefined ? [] : this.#pendingEdits;
    this.#pendingEdits =
      chain !== undefined && u.edit !== undefined && u.edit.base === base ? [...chain, u.edit] : undefined;
    this.#pending = u;
    const wait = this.#lastBuildAt + this.#coalesceMs - performance.now();
    if (wait <= 0 && this.#timer === undefined) {
      this.flush();
      return;
    }
    this.#timer ??= setTimeout(
      () => {
        this.#timer = undefined;
        this.flush();
      },
      Math.max(0, wait),
    );
  }

  /** Apply a pending update now (tests, shutdown). */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const u = this.#pending;
    const edits = this.#pendingEdits;
    this.#pending = undefined;
    this.#pendingEdits = undefined;
    if (!u || u.text === this.#lastText) return;
    this.#apply(u, edits);
  }

  #apply(u: RouteTextUpdate, edits: readonly TextEdit[] | undefined): void {
    const before = this.#liveText;
    this.#lastText = u.text;
    this.#lastBuildAt = performance.now();
    const now = (this.#o.now ?? (() => new Date()))();
    // one edit of the live text: the diff of its hunks, not of the whole texts
    const diff = edits?.length === 1 ? editDiff(edits[0] as TextEdit) : lineDiff(this.#liveText, u.text);
    let table: Table;
    try {
      table = this.#o.build(u.text, this.#o.store.current, edits);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#buildError = message;
      this.#o.log.warn(message);
      const entry = historyEntry(now, u, before, diff, message);
      this.#history.add(entry);
      this.#emit({ entry, table: this.#o.store.current });
      return;
    }
    this.#buildError = '';
    this.#liveText = u.text;
    // The store runs every subscriber even when one throws and hands back what they threw; a
    // throwing subscriber must not stop the others, logging, history or firstTable either.
    const failures = this.#o.store.swap(table);
    try {
      this.#o.onSwap?.(table);
    } catch (err) {
      failures.push(err);
    }
    for (const err of failures) {
      this.#o.log.error(`table swap subscriber failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.#logWarnings(table.warnings);
    const msg = routeLogMessage(this.#o.routesFormat, diff, u.text, () => table.dump());
    if (msg !== undefined) this.#o.log.info(msg);
    const entry = historyEntry(now, u, before, diff);
    this.#history.add(entry);
    this.#resolveFirst(table);
    this.#emit({ entry, table });
  }

  /** Replaces the tag warnings (the registry's current list); true when they changed. */
  #setTagWarnings(ws: readonly ServiceTagWarning[]): boolean {
    const before = this.#tagWarnings;
    this.#tagWarnings = Object.freeze([...ws]);
    const seen = new Set<string>();
    for (const w of ws) {
      const k = `${w.service}\u0000${w.tag}\u0000${w.message}`;
      seen.add(k);
      // log each problem tag once while it persists, not on every Consul change
      if (!this.#loggedTags.has(k))
        this.#o.log.warn(`Skipping tag ${JSON.stringify(w.tag)} of service ${JSON.stringify(w.service)}: ${w.message}`);
    }
    this.#loggedTags = seen;
    return (
      before.length !== ws.length ||
      before.some((w, i) => w.service !== ws[i]?.service || w.tag !== ws[i]?.tag || w.message !== ws[i]?.message)
    );
  }

  #logWarnings(ws: readonly Warning[]): void {
    const seen = new Set<string>();
    for (const w of ws) {
      seen.add(w.message);
      if (!this.#loggedTableWarnings.has(w.message)) this.#o.log.warn(w.message);
    }
    this.#loggedTableWarnings = seen;
  }

  #emit(e: ChangeEvent): void {
    for (const fn of this.#listeners) {
      try {
        fn(e);
      } catch (err) {
        this.#o.log.error(`route change listener failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  /**
   * Records a change that is not a table build (an ejection or a return, src/runtime/outlier-history.ts)
   * in the history and tells the listeners (the UI refreshes).
   */
  note(entry: HistoryEntry): void {
    if (this.#closed) return;
    this.#history.add(entry);
    this.#emit({ entry, table: this.#o.store.current });
  }

  /** The last 100 changes, oldest first; failed builds included with `error`. */
  history(): HistoryEntry[] {
    return this.#history.entries();
  }

  warnings(): UpdaterWarnings {
    return { tags: this.#tagWarnings, table: this.#o.store.current?.warnings ?? [], buildError: this.#buildError };
  }

  /** Called after every change (swap or failed build); returns an unsubscribe function. */
  onChange(fn: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Stop: a pending update is dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
    this.#pendingEdits = undefined;
  }
}

/**
 * The history entry of one build attempt (with the error when the previous table was kept); its
 * lines do not keep the texts they were cut from (`before`, the live text, and the new one) alive.
 */
function historyEntry(
  now: Date,
  u: RouteTextUpdate,
  before: string,
  diff: { readonly added: readonly string[]; readonly removed: readonly string[] },
  error?: string,
): HistoryEntry {
  const added = ownLines(diff.added, u.text);
  const e = { time: now.toISOString(), cause: u.cause, index: u.index, added, removed: ownLines(diff.removed, before) };
  return error === undefined ? e : { ...e, error };
}
