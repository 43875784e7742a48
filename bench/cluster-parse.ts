/**
 * Parsers for the output of the side-by-side scripts (bench/side-by-side-http.sh and
 * side-by-side-tcp.sh), used by bench/run-all.ts. Latencies come back in milliseconds.
 */
export interface Sample {
  bench: 'http' | 'bulk' | 'conn' | 'sni';
  round: number;
  name: string;
  rps?: number;
  gbps?: number;
  p50?: number;
  p99?: number;
  /** wrk's error summary ('' when none). */
  errors: string;
}

/** wrk latency text ("712.00us", "1.29ms", "1.20s", "2.00m") → milliseconds. */
export function toMs(s: string | undefined): number | undefined {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s ?? '');
  if (!m) return undefined;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

const field = (line: string, k: string) => new RegExp(`\\b${k}=(\\S*)`).exec(line)?.[1];

function errorsOf(line: string): string {
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(line);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(line);
  const parts: string[] = [];
  if (m) {
    const [, c, r, w, t] = m;
    if (c !== '0') parts.push(`c${c}`);
    if (r !== '0') parts.push(`r${r}`);
    if (w !== '0') parts.push(`w${w}`);
    if (t !== '0') parts.push(`t${t}`);
  }
  if (non2xx) parts.push(`non2xx${non2xx[1]}`);
  return parts.join(',');
}

/** Lines like `round=1 nginx rps=21359.42 p50=1.89ms p99=26.52ms  Socket errors: ...`. */
export function parseHttpLines(out: string): Sample[] {
  const res: Sample[] = [];
  for (const line of out.split('\n')) {
    const m = /^round=(\d+) (\w+) rps=/.exec(line);
    if (!m) continue;
    res.push({
      bench: 'http',
      round: Number(m[1]),
      name: m[2] as string,
      rps: Number(field(line, 'rps') || 0),
      p50: toMs(field(line, 'p50')),
      p99: toMs(field(line, 'p99')),
      errors: errorsOf(line),
    });
  }
  return res;
}

/** Lines like `bulk haproxy gbps=31.2`, `conn project rps=9000 p99=3ms ...`, `sni nginx rps=...`. */
export function parseTcpLines(out: string, round = 1): Sample[] {
  const res: Sample[] = [];
  for (const line of out.split('\n')) {
    const m = /^(bulk|conn|sni) (\w+) /.exec(line);
    if (!m) continue;
    const bench = m[1] as Sample['bench'];
    res.push({
      bench,
      round,
      name: m[2] as string,
      gbps: bench === 'bulk' ? Number(field(line, 'gbps') || 0) : undefined,
      rps: bench === 'bulk' ? undefined : Number(field(line, 'rps') || 0),
      p99: toMs(field(line, 'p99')),
      errors: errorsOf(line),
    });
  }
  return res;
}

/** Median (upper middle for even counts); NaN for none. */
export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
