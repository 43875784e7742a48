import type { ConsulClient, ConsulResponse } from './client.ts';

/**
 * One Consul blocking-query loop with the rules of Consul's blocking queries
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking):
 * - send the last X-Consul-Index back as ?index= with ?wait=; an index of 0 or garbage is read as 1
 *   (older Consul versions sent 0 and made clients busy-loop);
 * - an index that goes backwards (snapshot restore, a deleted KV key, a restarted catalog) is
 *   accepted as data and the next read is a fresh non-blocking one (index 0), so we resync at once;
 * - a client timeout above wait + wait/16 (Consul's jitter) plus a margin acts as the watchdog for
 *   a hung connection;
 * - a token bucket limits the loop rate under churn without delaying a lone change;
 * - errors: retry after a short backoff (retryMs doubling, capped at maxRetryMs) from index 0, so a
 *   Consul that restarted with lower indexes is read at once instead of blocking on a stale index;
 * - the AbortSignal ends the loop and the in-flight request.
 */

export interface BlockingHooks {
  /** Called for each successful response; throwing counts as an error (retry from index 0). */
  onResponse(res: ConsulResponse, index: number): Promise<void> | void;
  /** first = the first error after a success (callers log once per state change). */
  onError(err: unknown, first: boolean): void;
  /** The first success after one or more errors. */
  onRecover?(): void;
  /**
   * The index went backwards since the last good response (also across an outage: a restarted
   * Consul starts again from low indexes). Called before onResponse; callers drop caches (resync).
   */
  onReset?(): void;
}

export interface BlockingOptions {
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | true>>;
  /** Statuses treated as a valid response (e.g. 404 for a KV prefix with no key). */
  readonly allow?: readonly number[];
  /** Blocking wait sent to Consul (ms). */
  readonly waitMs: number;
  /** > 0: poll mode — sleep this long between non-blocking reads (registry.consul.pollinterval). */
  readonly pollIntervalMs: number;
  readonly retryMs: number;
  readonly maxRetryMs: number;
  /** Token bucket: burst size and refill per second. */
  readonly burst: number;
  readonly perSecond: number;
}

export const DEFAULT_BLOCKING: Omit<BlockingOptions, 'path'> = {
  waitMs: 5 * 60_000,
  pollIntervalMs: 0,
  retryMs: 1000,
  maxRetryMs: 2000,
  // A lone change never waits; sustained churn is capped at 200 reads/s (5 ms apart): a busy loop
  // on a misbehaving index is stopped, while a change under heavy churn waits at most 5 ms.
  burst: 50,
  perSecond: 200,
};

/** A token bucket; take() resolves when a token is available (or at once when aborted). */
export class TokenBucket {
  #tokens: number;
  #last = performance.now();
  readonly #burst: number;
  readonly #rate: number;
  constructor(burst: number, perSecond: number) {
    this.#burst = Math.max(1, burst);
    this.#rate = Math.max(0.001, perSecond);
    this.#tokens = this.#burst;
  }
  /** Milliseconds to wait before the next token (0 = available now); consumes it. */
  reserve(): number {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }
}

/** Sleeps ms or until the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Go duration text for a wait parameter: whole seconds when possible, else milliseconds. */
export function waitParam(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.max(1, Math.round(ms))}ms`;
}

/** Reads X-Consul-Index with the sanity rule (missing, 0 or garbage → 1). */
export function consulIndex(headers: Readonly<Record<string, string>>): number {
  const n = Number(headers['x-consul-index']);
  return Number.isSafeInteger(n) && n > 0 ? n : 1;
}

/** Runs the loop until the signal aborts. Never rejects. */
export async function blockingLoop(
  client: ConsulClient,
  opts: BlockingOptions,
  hooks: BlockingHooks,
  signal: AbortSignal,
): Promise<void> {
  const bucket = new TokenBucket(opts.burst, opts.perSecond);
  let index = 0;
  let lastGood = 0;
  let errors = 0;
  let first = true;
  while (!signal.aborted) {
    if (opts.pollIntervalMs > 0 && !first && errors === 0) await sleep(opts.pollIntervalMs, signal);
    else await sleep(bucket.reserve(), signal);
    first = false;
    if (signal.aborted) break;
    const blocking = opts.pollIntervalMs <= 0 && index > 0;
    const query: Record<string, string | number | true> = { ...opts.query };
    if (blocking) {
      query.index = index;
      query.wait = waitParam(opts.waitMs);
    }
    const timeoutMs = blocking ? opts.waitMs + opts.waitMs / 16 + 5000 : 30_000;
    try {
      const res = await client.get(opts.path, { query, signal, timeoutMs }, opts.allow ?? []);
      const next = consulIndex(res.headers);
      if (next < lastGood) hooks.onReset?.();
      await hooks.onResponse(res, next);
      lastGood = next;
      // Backwards → next read is a fresh one; otherwise block on the new index.
      index = next < index ? 0 : next;
      if (errors > 0) hooks.onRecover?.();
      errors = 0;
    } catch (err) {
      if (signal.aborted) break;
      hooks.onError(err, errors === 0);
      errors++;
      index = 0;
      await sleep(Math.min(opts.retryMs * 2 ** (errors - 1), opts.maxRetryMs), signal);
    }
  }
}
