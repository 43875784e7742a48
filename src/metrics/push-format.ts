import { type IntervalSample, quantileMs } from './push-snapshot.ts';

/**
 * The wire lines of fabio's push backends (section (h)), from one interval's samples. Pure: the
 * transports (push-transport.ts) only move the text.
 *
 * Names: `<prefix>.<name>`. Route metrics (`route`, `route.rx`, `route.tx`) are named by the
 * metrics.names template (+ `.rx`/`.tx`); other labelled metrics are flattened as
 * `name.k1.v1.k2.v2` (`http.status.code.200.service.svc`). dogstatsd and label keep the name and
 * send the labels as tags instead. Timers are in milliseconds.
 */

export type PushTarget = 'flat' | 'label' | 'graphite' | 'statsd_raw' | 'dogstatsd';

export interface NameContext {
  /** The rendered metrics.prefix (fabio's clean), empty for none. */
  readonly prefix: string;
  /** The compiled metrics.names template. */
  readonly routeName: (service: string, host: string, path: string, target: string) => string;
}

/** Tag keys DataDog reserves; fabio sends them as `fabio-<key>`. */
const RESERVED_TAGS = new Set(['host', 'service', 'device', 'source', 'env', 'version']);

/** Graphite quantiles fabio's graphite backend (go-kit) sends per histogram. */
const GRAPHITE_QUANTILES: readonly [string, number][] = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
];

const withPrefix = (ctx: NameContext, name: string) => (ctx.prefix === '' ? name : `${ctx.prefix}.${name}`);

/** A number as text: integers plainly, fractions to microsecond precision. */
function num(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Math.round(n * 1000) / 1000);
}

/** The flat (label-less) name of a sample, without the prefix. */
const flatNames = new WeakMap<IntervalSample, string>();

function flatName(ctx: NameContext, s: IntervalSample): string {
  let n = flatNames.get(s);
  if (n === undefined) {
    n = computeFlatName(ctx, s);
    flatNames.set(s, n);
  }
  return n;
}

function computeFlatName(ctx: NameContext, s: IntervalSample): string {
  if (s.name === 'route' || s.name.startsWith('route.')) {
    const l = Object.fromEntries(s.labels);
    const base = ctx.routeName(l.service ?? '', l.host ?? '', l.path ?? '', l.target ?? '');
    const dot = s.name.lastIndexOf('.');
    return dot < 0 ? base : base + s.name.slice(dot);
  }
  if (s.labels.length === 0) return s.name;
  return `${s.name}.${s.labels.map(([k, v]) => `${k}.${v}`).join('.')}`;
}

/** A statsd name must not carry the protocol's separators or a newline; a tag value may hold `:`. */
const safeTag = (s: string) => s.replace(/[\s|#,]/g, '_');
const safeName = (s: string) => s.replace(/[\s|:@#]/g, '_');

function tags(s: IntervalSample, rename: boolean): string {
  if (s.labels.length === 0) return '';
  const t = s.labels.map(([k, v]) => `${rename && RESERVED_TAGS.has(k) ? `fabio-${k}` : k}:${safeTag(v)}`);
  return `|#${t.join(',')}`;
}

/** The sample rate that makes a statsd server count one pre-aggregated timer line as `count` observations. */
const rate = (count: number) => (count > 1 ? `|@${num(1 / count)}` : '');

/** Lines for one backend; `nowSec` is the graphite timestamp. Samples without activity are left out. */
export function formatLines(
  target: PushTarget,
  ctx: NameContext,
  samples: readonly IntervalSample[],
  nowSec: number,
): string[] {
  const out: string[] = [];
  for (const s of samples) {
    if (s.kind === 'counter' && s.delta === 0) continue;
    if (s.kind === 'timer' && s.count <= 0) continue;
    switch (target) {
      case 'graphite': {
        const n = safeName(withPrefix(ctx, flatName(ctx, s)));
        if (s.kind === 'counter') out.push(`${n} ${num(s.delta)} ${nowSec}`);
        else if (s.kind === 'gauge') out.push(`${n} ${num(s.value)} ${nowSec}`);
        else
          for (const [p, q] of GRAPHITE_QUANTILES)
            out.push(`${n}.${p} ${num(quantileMs(s.buckets, s.count, q))} ${nowSec}`);
        break;
      }
      case 'statsd_raw': {
        const n = safeName(withPrefix(ctx, flatName(ctx, s)));
        if (s.kind === 'counter') out.push(`${n}:${num(s.delta)}|c`);
        else if (s.kind === 'gauge') out.push(`${n}:${num(s.value)}|g`);
        else out.push(`${n}:${num(s.sumMs / s.count)}|ms${rate(s.count)}`);
        break;
      }
      case 'dogstatsd': {
        const n = safeName(withPrefix(ctx, s.name));
        if (s.kind === 'counter') out.push(`${n}:${num(s.delta)}|c${tags(s, true)}`);
        else if (s.kind === 'gauge') out.push(`${n}:${num(s.value)}|g${tags(s, true)}`);
        else out.push(`${n}:${num(s.sumMs / s.count)}|h${rate(s.count)}${tags(s, true)}`);
        break;
      }
      case 'flat': {
        const n = withPrefix(ctx, flatName(ctx, s));
        if (s.kind === 'counter') out.push(`${n}:${num(s.total)}|c`);
        else if (s.kind === 'gauge') out.push(`${n}:${num(s.value)}|g`);
        else out.push(`:${n}:${Math.round(s.sumMs / s.count)}|ms`);
        break;
      }
      case 'label': {
        const n = withPrefix(ctx, s.name);
        if (s.kind === 'counter') out.push(`${n}:${num(s.total)}|c${tags(s, false)}`);
        else if (s.kind === 'gauge') out.push(`${n}:${num(s.value)}|g${tags(s, false)}`);
        else out.push(`${n}:${Math.round(s.sumMs / s.count)}|ms${tags(s, false)}`);
        break;
      }
    }
  }
  return out;
}
