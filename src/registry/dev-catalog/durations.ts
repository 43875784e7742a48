/**
 * Go `time.Duration` strings as Consul accepts them in check definitions and `?wait=`:
 * "10s", "1m0s", "90m", "1h30m", "500ms", "1.5s", plain "0". A bare number is taken as
 * seconds for `?wait=` (Consul's parser does the same for wait) and rejected elsewhere.
 */

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Milliseconds, or undefined when the text is not a Go duration. */
export function parseDuration(text: string): number | undefined {
  let s = text.trim();
  if (s === '') return undefined;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  let total = 0;
  let parts = 0;
  while (s.length > 0) {
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    s = s.slice(m[0].length);
    parts++;
  }
  return parts > 0 ? sign * total : undefined;
}

/** `?wait=` value: a Go duration or a bare number of seconds. */
export function parseWait(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  return parseDuration(text);
}

/** Go's Duration.String() for whole milliseconds: 0s, 500ms, 10s, 1m0s, 1h30m0s. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const sec = Number.isInteger(rest) ? String(rest) : String(Number(rest.toFixed(3)));
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}
