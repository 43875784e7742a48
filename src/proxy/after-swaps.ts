import type { Table } from '../routes/types.ts';

/**
 * Work that follows table swaps but must not delay them: pruning what belongs to targets that left
 * the table (metric label sets, traffic rings, upstream connection pools) and the self-registration
 * aliases. Run on every swap, walking every target of the new table (15,000 at 5,000 services × 3,
 * ten times that at 50,000), it cost each worker 15-30 ms per catalog change at 5,000 × 3, more
 * than the incremental build (bench/README.md, "Propagation, second session"); the prunes now look
 * their routes up instead (routeAt), and run here, once per burst.
 *
 * The returned function is a swap subscriber: it runs `fn` once, `delayMs` after the first swap of
 * a burst, with the table live by then. What belonged to departed targets lives up to `delayMs`
 * longer; nothing is served from it (lookups use the live table). A `fn` that throws costs that
 * run only; the next burst runs again. The timer does not keep the process alive. `delayMs` <= 0
 * runs `fn` on the swap itself.
 */
export function afterSwaps(fn: (t: Table) => void, delayMs = AFTER_SWAPS_MS): (t: Table) => void {
  if (delayMs <= 0) return fn;
  let latest: Table | undefined;
  let timer: NodeJS.Timeout | undefined;
  return (t) => {
    latest = t;
    timer ??= setTimeout(() => {
      timer = undefined;
      const table = latest as Table;
      latest = undefined;
      try {
        fn(table);
      } catch {
        // what belonged to departed targets stays until the next run; nothing is served from it
      }
    }, delayMs);
    timer.unref();
  };
}

/** How long after the first swap of a burst the pruning runs. */
export const AFTER_SWAPS_MS = 2000;
