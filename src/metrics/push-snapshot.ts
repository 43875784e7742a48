import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/**
 * The push backends (graphite, statsd_raw, dogstatsd, flat, label) read the same prom-client
 * metrics the proxy already updates (src/metrics/prometheus.ts), so the hot path is unchanged: at
 * every metrics.interval the pusher takes a snapshot of each process's registry as JSON and turns
 * the cumulative values into what happened during the interval. Deltas are taken per process
 * (source id = pid), then summed: a worker that dies and is replaced starts a new baseline instead
 * of making the merged counter jump backwards or count twice.
 */

/** fabio's internal metric names (section (h)) that the push backends send; nothing else is pushed. */
export const PUSHED_METRICS = [
  'route',
  'route.rx',
  'route.tx',
  'notfound',
  'requests',
  'http.status',
  'http.redirect.count',
  'ws.conn',
  'tcp.conn',
  'tcp.connfail',
  'tcp.noroute',
  'tcp_sni.conn',
  'tcp_sni.connfail',
  'tcp_sni.noroute',
  'grpc.conn',
  'grpc.requests',
  'grpc.noroute',
  'grep.status',
] as const;

/** Label order as fabio passes them to With(): flattened names depend on it (`http.status.code.200.service.svc`). */
const LABEL_ORDER = ['code', 'service', 'host', 'path', 'target'];

export type PromJson = MetricObjectWithValues<MetricValue<string>>[];

export interface Source {
  readonly id: string;
  readonly metrics: PromJson;
}

/** One cumulative series of one process. */
interface Series {
  readonly name: string;
  readonly labels: readonly (readonly [string, string])[];
  readonly kind: 'counter' | 'gauge' | 'timer';
  value: number;
  count: number;
  /** Seconds. */
  sum: number;
  /** Cumulative counts per upper bound (seconds), ascending, +Inf last. */
  buckets: [number, number][];
}

/** What one series did during one interval (all processes together). */
export type IntervalSample =
  | { kind: 'counter'; name: string; labels: readonly (readonly [string, string])[]; delta: number; total: number }
  | { kind: 'gauge'; name: string; labels: readonly (readonly [string, string])[]; value: number }
  | {
      kind: 'timer';
      name: string;
      labels: readonly (readonly [string, string])[];
      count: number;
      /** Milliseconds. */
      sumMs: number;
      /** Observations per upper bound (milliseconds) during the interval, not cumulative, +Inf last. */
      buckets: [number, number][];
    };

function orderedLabels(l: Record<string, string | number> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const k in l) if (k !== 'le') out.push([k, String(l[k])]);
  out.sort((a, b) => rank(a[0]) - rank(b[0]));
  return out;
}
const rank = (k: string) => {
  const i = LABEL_ORDER.indexOf(k);
  return i < 0 ? LABEL_ORDER.length : i;
};

/**
 * The identity of a series: its name and label values in LABEL_ORDER (the pushed metrics carry no
 * other labels). Built without sorting or intermediate arrays: a histogram has one JSON entry per
 * bucket, so this runs ~14 times per series per push.
 */
function seriesKey(name: string, l: Record<string, string | number> | undefined): string {
  if (l === undefined) return name;
  return `${name}\u0000${l.code ?? ''}\u0000${l.service ?? ''}\u0000${l.host ?? ''}\u0000${l.path ?? ''}\u0000${l.target ?? ''}`;
}

/** Reads one process's prom-client JSON into series keyed by internal name + labels. */
function readSeries(json: PromJson, promNames: ReadonlyMap<string, string>): Map<string, Series> {
  const out = new Map<string, Series>();
  for (const m of json) {
    const name = promNames.get(m.name);
    if (name === undefined) continue;
    // prom-client declares the type as an enum of these strings
    const type = m.type as unknown as string;
    if (type === 'histogram') {
      // prom-client lists each label set's entries together: its buckets (ascending, +Inf last), then
      // _sum, then _count. The buckets are collected until the _sum names the series, so the key is
      // built once per series, not once per bucket (with the idle-series skip: deltas of 4,000 busy series
      // ~690 -> ~80 ms on the shared 2-core box).
      const sumName = `${m.name}_sum`;
      const countName = `${m.name}_count`;
      let pending: [number, number][] = [];
      let s: Series | undefined;
      for (const v of m.values) {
        const l = v.labels as Record<string, string | number>;
        const mn = (v as { metricName?: string }).metricName;
        if (mn === sumName) {
          const k = seriesKey(name, l);
          s = out.get(k);
          if (!s) {
            s = { name, labels: orderedLabels(l), kind: 'timer', value: 0, count: 0, sum: 0, buckets: pending };
            out.set(k, s);
          } else s.buckets.push(...pending);
          s.sum = v.value;
          pending = [];
        } else if (mn === countName) {
          if (s) s.count = v.value;
        } else {
          const le = l.le;
          pending.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), v.value]);
        }
      }
    } else if (type === 'counter' || type === 'gauge') {
      for (const v of m.values) {
        const l = v.labels as Record<string, string | number>;
        out.set(seriesKey(name, l), {
          name,
          labels: orderedLabels(l),
          kind: type,
          value: v.value,
          count: 0,
          sum: 0,
          buckets: [],
        });
      }
    }
  }
  // prom-client lists buckets in ascending order already; sort only if not
  for (const s of out.values()) {
    const b = s.buckets;
    for (let i = 1; i < b.length; i++) {
      if ((b[i - 1] as [number, number])[0] > (b[i] as [number, number])[0]) {
        b.sort((x, y) => x[0] - y[0]);
        break;
      }
    }
  }
  return out;
}

/**
 * Keeps the previous snapshot of every source and turns each new set of snapshots into interval
 * samples. A counter or timer that went backwards (its label set was pruned and re-created, or the
 * process restarted) counts from zero again.
 */
export class IntervalTracker {
  readonly #promNames: ReadonlyMap<string, string>;
  #prev = new Map<string, Map<string, Series>>();

  constructor(promNames: ReadonlyMap<string, string>) {
    this.#promNames = promNames;
  }

  next(sources: readonly Source[]): IntervalSample[] {
    const merged = new Map<string, IntervalSample>();
    const prevAll = this.#prev;
    this.#prev = new Map();
    for (const src of sources) {
      const cur = readSeries(src.metrics, this.#promNames);
      const prev = prevAll.get(src.id);
      this.#prev.set(src.id, cur);
      for (const [k, s] of cur) {
        const p = prev?.get(k);
        const m = merged.get(k);
        if (s.kind === 'gauge') {
          if (m?.kind === 'gauge') m.value += s.value;
          else merged.set(k, { kind: 'gauge', name: s.name, labels: s.labels, value: s.value });
        } else if (s.kind === 'counter') {
          const delta = p && p.value <= s.value ? s.value - p.value : s.value;
          if (m?.kind === 'counter') {
            m.delta += delta;
            m.total += s.value;
          } else merged.set(k, { kind: 'counter', name: s.name, labels: s.labels, delta, total: s.value });
        } else {
          const fresh = !p || p.count > s.count;
          const count = fresh ? s.count : s.count - p.count;
          // an idle series costs nothing more (most series between two pushes)
          if (count === 0 && m === undefined) continue;
          const sumMs = (fresh ? s.sum : s.sum - p.sum) * 1000;
          // per-bucket observations of the interval: (cur - prev) of the cumulative counts, differenced
          const cb = s.buckets;
          const pb = fresh ? undefined : p.buckets;
          const buckets: [number, number][] = new Array(cb.length);
          let lastCum = 0;
          for (let i = 0; i < cb.length; i++) {
            const [le, c] = cb[i] as [number, number];
            const cum = c - (pb?.[i]?.[1] ?? 0);
            buckets[i] = [le * 1000, cum - lastCum];
            lastCum = cum;
          }
          if (m?.kind === 'timer') {
            m.count += count;
            m.sumMs += sumMs;
            for (let i = 0; i < m.buckets.length; i++) {
              const b = m.buckets[i] as [number, number];
              b[1] += buckets[i]?.[1] ?? 0;
            }
          } else merged.set(k, { kind: 'timer', name: s.name, labels: s.labels, count, sumMs, buckets });
        }
      }
    }
    return [...merged.values()];
  }
}

/**
 * The q-quantile (0..1) of an interval's observations in milliseconds, interpolated linearly inside
 * the bucket that holds it (as Prometheus' histogram_quantile does); the highest finite bound when it
 * falls into +Inf.
 */
export function quantileMs(buckets: readonly [number, number][], count: number, q: number): number {
  if (count <= 0) return 0;
  const rankWanted = q * count;
  let seen = 0;
  let lower = 0;
  for (const [le, n] of buckets) {
    if (seen + n >= rankWanted && n > 0) {
      if (!Number.isFinite(le)) return lower;
      return lower + ((le - lower) * (rankWanted - seen)) / n;
    }
    seen += n;
    if (Number.isFinite(le)) lower = le;
  }
  return lower;
}
