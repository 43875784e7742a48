import type { ConsulClient, ConsulResponse, ReceiveBuffers } from './client.ts';

/**
 * One Consul blocking-query loop with the rules of Consul's blocking queries
 * (https://developer.hashicorp.com/consul/api-docs/features/blocking), treating every answer as
 * untrusted input:
 * - send the last X-Consul-Index back as ?index= with ?wait=; an index of 0, negative or garbage is
 *   read as 1 (older Consul versions sent 0 and made clients busy-loop);
 * - an index that goes backwards (snapshot restore, a deleted KV key, a restarted catalog) is
 *   accepted as data and the next read is a fresh non-blocking one (index 0), at once the first
 *   time, with backoff when it keeps happening;
 * - every request has a total deadline (wait + wait/16 jitter + margin for a blocking read, 30 s
 *   otherwise) and a body cap (client.ts);
 * - misbehaviour — an error, an index that went backwards, a blocking read answered early without a
 *   new index — starts a streak; while it lasts the next request waits an exponential backoff
 *   (retryMs doubling up to maxRetryMs, plus up to 50 % random jitter so many fabio-ts instances
 *   do not retry in step). A blocking read that advances the index, or that blocked, ends the
 *   streak. fabio's 1 s retry after an error is the floor (retryMs), and the token bucket below
 *   still caps the rate under churn;
 * - errors retry from index 0, so a Consul that restarted with lower indexes is read at once
 *   instead of blocking on a stale index;
 * - hooks are told about the first event of each kind in a streak and, when it ends, how many
 *   there were, so callers log one line per episode instead of one per request;
 * - the AbortSignal ends the loop and the in-flight request.
 */

export interface Episode {
  readonly errors: number;
  readonly resets: number;
  /** Blocking reads answered early without a new index. */
  readonly early: number;
}

export interface BlockingHooks {
  /** Called for each successful response; throwing counts as an error (retry from index 0). */
  onResponse(res: ConsulResponse, index: number): Promise<void> | void;
  /** first = the first error of an episode (callers log once per episode). */
  onError(err: unknown, first: boolean): void;
  /** The first success after one or more errors, with the episode's counts. */
  onRecover?(episode: Episode): void;
  /**
   * The index went backwards since the last good response (also across an outage: a restarted
   * Consul starts again from low indexes). Called before onResponse; callers drop caches (resync).
   * first = the first reset of an episode.
   */
  onReset?(first: boolean): void;
  /** The loop misbehaved (resets, early answers) and is calm again: one summary per episode. */
  onCalm?(episode: Episode): void;
  /** A blocking read came back early without a new index (first of an episode only). */
  onEarly?(index: number): void;
}

export interface BlockingOptions {
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | true>>;
  /** Statuses treated as a valid response (e.g. 404 for a KV prefix with no key). */
  readonly allow?: readonly number[];
  /** Reusable body buffers (large answers; see ReceiveBuffers). */
  readonly into?: ReceiveBuffers;
  /** Blocking wait sent to Consul (ms). */
  readonly waitMs: number;
  /** > 0: poll mode — sleep this long between non-blocking reads (registry.consul.pollinterval). */
  readonly pollIntervalMs: number;
  /** First backoff after misbehaviour (fabio's 1 s retry); doubles per event up to maxRetryMs. */
  readonly retryMs: number;
  readonly maxRetryMs: number;
  /** Deadline of a non-blocking read, and the margin above wait + wait/16 of a blocking one (ms). */
  readonly readTimeoutMs?: number;
  readonly marginMs?: number;
  /** Random source for the jitter (tests inject a fixed one). */
  readonly random?: () => number;
  /** Token bucket: burst size and refill per second. */
  readonly burst: number;
  readonly perSecond: number;
}

export const DEFAULT_BLOCKING: Omit<BlockingOptions, 'path'> = {
  waitMs: 5 * 60_000,
  pollIntervalMs: 0,
  // fabio retries after 1 s; a Consul that keeps failing is asked every 10-15 s (a recovered one is
  // seen within 15 s, a broken one costs ~0.1 requests/s per watch).
  retryMs: 1000,
  maxRetryMs: 10_000,
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

/** Backoff for the n-th event of a streak (n >= 1): retryMs·2^(n-1) capped, plus up to 50 % jitter. */
export function backoffMs(n: number, retryMs: number, maxRetryMs: number, random: () => number = Math.random): number {
  const base = Math.min(retryMs * 2 ** Math.min(n - 1, 30), Math.max(retryMs, maxRetryMs));
  return base + base * 0.5 * random();
}

/** Runs the loop until the signal aborts. Never rejects. */
export async function blockingLoop(
  client: ConsulClient,
  opts: BlockingOptions,
  hooks: BlockingHooks,
  signal: AbortSignal,
): Promise<void> {
  const bucket = new TokenBucket(opts.burst, opts.perSecond);
  const random = opts.random ?? Math.random;
  let index = 0;
  let lastGood = 0;
  let first = true;
  // Misbehaviour streak: events since the last calm answer, and the counts by kind.
  let streak = 0;
  let delay = 0;
  let ep = { errors: 0, resets: 0, early: 0 };
  const calm = () => {
    if (streak === 0) return;
    const done = ep;
    streak = 0;
    delay = 0;
    ep = { errors: 0, resets: 0, early: 0 };
    if (done.errors > 0) hooks.onRecover?.(done);
    if (done.resets > 0 || done.early > 0) hooks.onCalm?.(done);
  };
  const misbehaved = (grace: boolean) => {
    streak++;
    delay = grace ? 0 : backoffMs(streak, opts.retryMs, opts.maxRetryMs, random);
  };
  while (!signal.aborted) {
    const tokenWait = bucket.reserve();
    if (streak > 0) await sleep(Math.max(delay, tokenWait), signal);
    else if (opts.pollIntervalMs > 0 && !first) await sleep(opts.pollIntervalMs, signal);
    else await sleep(tokenWait, signal);
    first = false;
    if (signal.aborted) break;
    const blocking = opts.pollIntervalMs <= 0 && index > 0;
    const query: Record<string, string | number | true> = { ...opts.query };
    if (blocking) {
      query.index = index;
      query.wait = waitParam(opts.waitMs);
    }
    const timeoutMs = blocking
      ? opts.waitMs + opts.waitMs / 16 + (opts.marginMs ?? 5000)
      : (opts.readTimeoutMs ?? 30_000);
    const sent = performance.now();
    try {
      const res = await client.get(opts.path, { query, signal, timeoutMs, into: opts.into }, opts.allow ?? []);
      const next = consulIndex(res.headers);
      const backwards = next < lastGood;
      if (backwards) {
        hooks.onReset?.(ep.resets === 0);
        ep.resets++;
      }
      await hooks.onResponse(res, next);
      lastGood = next;
      if (ep.errors > 0) {
        // The first good answer after errors ends the error part of the episode.
        hooks.onRecover?.(ep);
        ep = { ...ep, errors: 0 };
      }
      if (backwards) {
        // The first reset of an episode resyncs at once; repeated ones back off. A fresh read
        // (after an outage) has resynced already: block on its index; a blocking one is followed
        // by a fresh read.
        misbehaved(ep.resets === 1);
        index = blocking ? 0 : next;
      } else if (blocking && next <= index && performance.now() - sent < opts.waitMs / 2) {
        // Consul answered a blocking read at once without a newer index: it would make us spin.
        if (ep.early === 0) hooks.onEarly?.(next);
        ep.early++;
        misbehaved(false);
        index = next;
      } else {
        if (blocking || ep.resets === 0) calm();
        index = next;
      }
    } catch (err) {
      if (signal.aborted) break;
      hooks.onError(err, ep.errors === 0);
      ep.errors++;
      misbehaved(false);
      index = 0;
    }
  }
}
