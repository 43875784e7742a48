import { formatDuration } from '../config/go-values.ts';
import type { Balancer, EjectionEvent } from '../proxy/outlier/balancer.ts';
import type { HistoryEntry, OutlierChange } from '../registry/types.ts';

/**
 * The route-change history records ejections and returns (issue #15): an ejection when the
 * balancer that decides (the single process, or the primary for a group of workers) ejects a
 * target, a return when its ejection time has run out (it is back for its trial request; a
 * failure then ejects it again, for twice as long, and adds another entry).
 */
export function recordEjections(
  b: Balancer,
  note: (e: HistoryEntry) => void,
  now: () => Date = () => new Date(),
): () => void {
  const timers = new Set<NodeJS.Timeout>();
  const entry = (e: EjectionEvent, change: Omit<OutlierChange, 'service' | 'url' | 'route'>): HistoryEntry => ({
    time: now().toISOString(),
    cause: 'outlier',
    index: 0,
    added: [],
    removed: [],
    outlier: { service: e.target.service, url: e.target.url, route: e.route.host + e.route.path, ...change },
  });
  const off = b.onEject((e) => {
    const route = e.route.host + e.route.path;
    note(
      entry(e, {
        event: 'ejected',
        seconds: e.ms / 1000,
        message: `ejected ${e.target.url} of ${route} for ${formatDuration(e.ms)}`,
      }),
    );
    const t = setTimeout(() => {
      timers.delete(t);
      note(entry(e, { event: 'returned', message: `returned ${e.target.url} of ${route}` }));
    }, e.ms);
    t.unref();
    timers.add(t);
  });
  return () => {
    off();
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
}
