import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { Config } from '../../config/types.ts';

/**
 * A small Consul HTTP client on one undici Pool to the agent. It knows the cross-cutting rules of
 * fabio's Consul reads (section (j)): ACL token header, `ns=`, `?consistent` / `?stale`, and https
 * with the registry.consul.tls.* options. Blocking semantics live in blocking.ts.
 */

export interface ConsulClientOptions {
  /** Agent address as configured: host:port or an http(s):// URL. */
  readonly addr: string;
  readonly token: string;
  readonly namespace: string;
  readonly consistency: 'consistent' | 'stale' | 'default';
  readonly tls?: {
    readonly ca?: string[];
    readonly cert?: string;
    readonly key?: string;
    readonly rejectUnauthorized: boolean;
  };
  /**
   * Pool size; at least 4 (health watch, two KV watches, catalog reads, registration). 0 = no
   * limit (the per-service watch parks one request per routed service).
   */
  readonly connections: number;
  /** Largest response body accepted, in bytes (registry.consul.maxbody); a larger one is an error. */
  readonly maxBody?: number;
}

/**
 * Default body cap: 128 MiB. The largest answer is /v1/health/state/any, about 300 bytes per check
 * (4.4 MB at 15,000 checks); a 50,000-service cluster with three checks per instance is ~45 MB, so
 * the cap leaves ~3x headroom while bounding what one answer can cost (buffered chunks plus the
 * string: about twice the cap at worst).
 */
export const DEFAULT_MAX_BODY = 128 * 1024 * 1024;

export interface ConsulResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (decoded from `bytes` on first use). */
  readonly body: string;
  /**
   * The body as received. Large answers (health/state/any: 44 MB at 150,000 checks) are read from
   * the bytes (health-state.ts) and never decoded as a whole.
   */
  readonly bytes?: Buffer;
}

/** A response whose text is decoded only when asked for. */
class BufferedResponse implements ConsulResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bytes: Buffer;
  #text: string | undefined;
  constructor(status: number, headers: Readonly<Record<string, string>>, bytes: Buffer) {
    this.status = status;
    this.headers = headers;
    this.bytes = bytes;
  }
  get body(): string {
    this.#text ??= this.bytes.toString('utf8');
    return this.#text;
  }
}

/** An HTTP status other than 2xx, with Consul's error body (e.g. `ACL not found`). */
export class ConsulHttpError extends Error {
  readonly status: number;
  constructor(method: string, path: string, status: number, body: string) {
    super(`Unexpected response code: ${status} (${body.trim() || 'no body'}) on ${method} ${path.split('?')[0]}`);
    this.name = 'ConsulHttpError';
    this.status = status;
  }
}

/** A response body above registry.consul.maxbody: the transfer is aborted. */
export class ConsulBodyTooLargeError extends Error {
  constructor(path: string, max: number) {
    super(`response body of GET ${path.split('?')[0]} exceeds registry.consul.maxbody (${max} bytes); aborted`);
    this.name = 'ConsulBodyTooLargeError';
  }
}

/** The whole request (headers and body) took longer than its deadline: aborted. */
export class ConsulTimeoutError extends Error {
  constructor(method: string, path: string, ms: number) {
    super(`${method} ${path.split('?')[0]} did not complete within ${Math.round(ms / 1000)}s; aborted`);
    this.name = 'ConsulTimeoutError';
  }
}

/** Splits fabio's registry.consul.addr: scheme sets the transport, anything after host:port is dropped. */
export function parseConsulAddr(addr: string): { scheme: 'http' | 'https'; hostPort: string } {
  let s = addr.trim().toLowerCase();
  let scheme: 'http' | 'https' = 'http';
  const m = /^(https?):\/\//.exec(s);
  if (m) {
    scheme = m[1] as 'http' | 'https';
    s = s.slice(m[0].length);
  }
  const slash = s.indexOf('/');
  if (slash >= 0) s = s.slice(0, slash);
  if (s === '') s = 'localhost:8500';
  // A bare host gets Consul's default port so the URL is complete.
  if (!/:\d+$/.test(s)) s = `${s}:8500`;
  return { scheme, hostPort: s };
}

/** Reads the registry.consul.* keys into client options. */
export function consulClientOptions(cfg: Config): ConsulClientOptions {
  const consistency = cfg.bool('registry.consul.allowStale')
    ? 'stale'
    : cfg.bool('registry.consul.requireConsistent')
      ? 'consistent'
      : 'default';
  const ca: string[] = [];
  const cafile = cfg.str('registry.consul.tls.cafile');
  if (cafile) ca.push(readFileSync(cafile, 'utf8'));
  const capath = cfg.str('registry.consul.tls.capath');
  if (capath) {
    // Like Go's x509 pool from a directory: every certificate file in it (keys and other files skipped).
    for (const f of readdirSync(capath)) {
      if (!/\.(pem|crt|cer)$/i.test(f)) continue;
      const pem = readFileSync(join(capath, f), 'utf8');
      if (pem.includes('-----BEGIN CERTIFICATE-----')) ca.push(pem);
    }
  }
  const certfile = cfg.str('registry.consul.tls.certfile');
  const keyfile = cfg.str('registry.consul.tls.keyfile');
  return {
    addr: cfg.str('registry.consul.addr'),
    token: cfg.str('registry.consul.token'),
    namespace: cfg.str('registry.consul.namespace'),
    consistency,
    tls: {
      ca: ca.length ? ca : undefined,
      cert: certfile ? readFileSync(certfile, 'utf8') : undefined,
      key: keyfile ? readFileSync(keyfile, 'utf8') : undefined,
      rejectUnauthorized: !cfg.bool('registry.consul.tls.insecureskipverify'),
    },
    connections: Math.max(4, cfg.num('registry.consul.serviceMonitors') + 4),
    maxBody: cfg.num('registry.consul.maxbody'),
  };
}

export interface GetOptions {
  /** Extra query parameters (already encoded values are not expected; they are encoded here). */
  readonly query?: Readonly<Record<string, string | number | true>>;
  readonly signal?: AbortSignal;
  /**
   * Deadline of the whole request, headers and body together (a blocking read needs wait + wait/16
   * + margin). undici's own timeouts only bound the gap between chunks, so a body trickled at one
   * byte a second would never end without it.
   */
  readonly timeoutMs?: number;
  /** Skip the consistency parameter (agent endpoints ignore it; KV writes reject nothing either way). */
  readonly noConsistency?: boolean;
  /** Receive the body into these buffers instead of fresh ones (the health watch's large answers). */
  readonly into?: ReceiveBuffers;
}

/**
 * Two reusable body buffers for one watch whose answers are large (health/state/any: 52 MB at
 * 150,000 checks). Collecting an answer as ~800 socket chunks and concatenating them kept 52 MB of
 * chunks alive across young collections (promoted, then freed by a major GC) and allocated another
 * 52 MB per answer: at 50,000 services × 3 that was a major GC per catalog change and most of the
 * read's time (bench/README.md, "Large catalogs"). Here each chunk is copied as it arrives into a
 * buffer that outlives the answers, so the chunks die young and steady state allocates nothing.
 *
 * One buffer holds the body the caller still reads (`inUse`: the base of the next incremental
 * read); the answer is received into the other one. A buffer is never handed out while its memory
 * is in use, so a body that was not accepted is simply overwritten by the next answer.
 */
export class ReceiveBuffers {
  readonly #inUse: () => Uint8Array | string | undefined;
  #bufs: Buffer[] = [];

  constructor(inUse: () => Uint8Array | string | undefined) {
    this.#inUse = inUse;
  }

  /**
   * A buffer of at least `min` bytes whose memory is not in use. Its contents are garbage. Buffers
   * that are too small are dropped; a new one gets 1/8 headroom so that a slowly growing catalog
   * does not reallocate on every answer.
   */
  take(min: number): Buffer {
    const used = this.#inUse();
    const busy = typeof used === 'string' ? undefined : used?.buffer;
    const free = this.#bufs.filter((b) => b.buffer !== busy);
    const fit = free.find((b) => b.length >= min);
    if (fit !== undefined) return fit;
    // allocUnsafeSlow: its own memory (never a slice of Node's shared pool), so `buffer` identifies it
    const next = Buffer.allocUnsafeSlow(Math.max(MIN_RECEIVE, min + (min >>> 3)));
    this.#bufs = [...this.#bufs.filter((b) => b.buffer === busy), next];
    return next;
  }

  /**
   * Makes the second buffer now, as large as the one held, with its pages written once. Called
   * after the first answer was applied: otherwise the first catalog change after start receives
   * its answer into 50+ MB of fresh memory at 50,000 services × 3, and the page faults made that
   * answer's read ~6 times slower than the next ones (bench/README.md, "Propagation, third session").
   */
  reserve(): void {
    const held = this.#bufs[0];
    if (this.#bufs.length !== 1 || held === undefined) return;
    // written, not just allocated: calloc'ed memory would still fault page by page on first use
    this.#bufs.push(Buffer.allocUnsafeSlow(held.length).fill(0));
  }
}

const MIN_RECEIVE = 64 * 1024;

/**
 * The handler of one request on undici's dispatch API: the body is collected as chunks and handed
 * over once, without the stream, async iterator and signal plumbing of `Pool.request` (a watch
 * answer under churn is read 20 times a second; issue #17). Enforces the body cap (declared and
 * received), the total deadline and the caller's abort.
 */
class ResponseReader {
  readonly #method: string;
  readonly #path: string;
  readonly #max: number;
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: (r: ConsulResponse) => void;
  readonly #reject: (e: unknown) => void;
  #abort: ((reason: Error) => void) | undefined;
  /** Why the request ended early (deadline, abort, body cap); given to undici's abort. */
  #reason: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status = 0;
  #headers: Record<string, string> = {};
  #chunks: Buffer[] = [];
  #size = 0;
  readonly #into: ReceiveBuffers | undefined;
  /** The receive buffer (with `into`): the body is its first #size bytes. */
  #buf: Buffer | undefined;
  #done = false;
  readonly #onAbort = () => this.#end(abortError(this.#signal));

  constructor(
    method: string,
    path: string,
    max: number,
    signal: AbortSignal | undefined,
    resolve: (r: ConsulResponse) => void,
    reject: (e: unknown) => void,
    into?: ReceiveBuffers,
  ) {
    this.#into = into;
    this.#method = method;
    this.#path = path;
    this.#max = max;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Starts the total deadline and follows the caller's signal. */
  arm(timeoutMs: number): void {
    this.#timer = setTimeout(() => this.#end(new ConsulTimeoutError(this.#method, this.#path, timeoutMs)), timeoutMs);
    if (this.#signal?.aborted) this.#onAbort();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Ends early: rejects at once and aborts the request in undici (now, or when it starts). */
  #end(reason: Error): void {
    if (this.#done) return;
    this.#reason = reason;
    this.#abort?.(reason);
    this.#finish();
    this.#reject(reason);
  }

  #finish(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  onConnect(abort: (reason: Error) => void): void {
    this.#abort = abort;
    if (this.#reason !== undefined) abort(this.#reason);
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    // 1xx: informational, the answer follows
    if (status < 200) return true;
    this.#status = status;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = (raw[i] as Buffer).toString('latin1').toLowerCase();
      const v = (raw[i + 1] as Buffer).toString('latin1');
      this.#headers[k] = k in this.#headers ? `${this.#headers[k]}, ${v}` : v;
    }
    const declared = Number(this.#headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#max)
      this.#end(new ConsulBodyTooLargeError(this.#path, this.#max));
    else if (this.#into !== undefined && declared > 0) this.#buf = this.#into.take(declared);
    return !this.#done;
  }

  onData(chunk: Buffer): boolean {
    if (this.#done) return false;
    this.#size += chunk.length;
    if (this.#size > this.#max) {
      this.#end(new ConsulBodyTooLargeError(this.#path, this.#max));
      return false;
    }
    if (this.#into === undefined) this.#chunks.push(chunk);
    else this.#copy(chunk);
    return true;
  }

  /** Copies a chunk into the receive buffer, growing it (doubling) when the body outgrows it. */
  #copy(chunk: Buffer): void {
    const at = this.#size - chunk.length;
    let buf = this.#buf;
    if (buf === undefined || buf.length < this.#size) {
      const next = (this.#into as ReceiveBuffers).take(Math.max(this.#size, 2 * (buf?.length ?? 0)));
      if (buf !== undefined && at > 0) buf.copy(next, 0, 0, at);
      this.#buf = buf = next;
    }
    chunk.copy(buf, at);
  }

  onComplete(): void {
    if (this.#done) return;
    this.#finish();
    const c = this.#chunks;
    const bytes =
      this.#into !== undefined
        ? (this.#buf ?? Buffer.alloc(0)).subarray(0, this.#size)
        : c.length === 1
          ? (c[0] as Buffer)
          : Buffer.concat(c, this.#size);
    this.#resolve(new BufferedResponse(this.#status, this.#headers, bytes));
  }

  onError(err: Error): void {
    if (this.#done) return;
    this.#finish();
    this.#reject(err);
  }
}

/** The caller's abort as an error (its reason when that is one). */
function abortError(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new DOMException('This operation was aborted', 'AbortError');
}

export class ConsulClient {
  readonly #pool: Pool;
  readonly #opts: ConsulClientOptions;
  /** host:port of the agent, as logged in `consul: Connecting to "<addr>" ...`. */
  readonly hostPort: string;
  readonly scheme: 'http' | 'https';
  /** Requests sent, by path without query (for tests and the propagation benchmark). */
  readonly requests = new Map<string, number>();

  constructor(opts: ConsulClientOptions) {
    this.#opts = opts;
    const { scheme, hostPort } = parseConsulAddr(opts.addr);
    this.hostPort = hostPort;
    this.scheme = scheme;
    this.#pool = new Pool(`${scheme}://${hostPort}`, {
      connections: opts.connections === 0 ? null : Math.max(4, opts.connections),
      // Blocking reads set their own timeouts per request; these cover the short calls.
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
      keepAliveTimeout: 30_000,
      connect: scheme === 'https' && opts.tls ? { ...opts.tls, timeout: 10_000 } : { timeout: 10_000 },
    });
  }

  #path(
    path: string,
    query: Readonly<Record<string, string | number | true>> | undefined,
    consistency: boolean,
  ): string {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(query ?? {})) {
      parts.push(v === true ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
    }
    if (consistency && this.#opts.consistency !== 'default') parts.push(this.#opts.consistency);
    if (this.#opts.namespace) parts.push(`ns=${encodeURIComponent(this.#opts.namespace)}`);
    return parts.length ? `${path}?${parts.join('&')}` : path;
  }

  #headers(): Record<string, string> {
    return this.#opts.token ? { 'x-consul-token': this.#opts.token } : {};
  }

  /** Any request; resolves with status, headers and body text for every status (caller decides). */
  request(method: 'GET' | 'PUT', path: string, opts: GetOptions & { body?: string } = {}): Promise<ConsulResponse> {
    this.requests.set(path, (this.requests.get(path) ?? 0) + 1);
    const full = this.#path(path, opts.query, method === 'GET' && !opts.noConsistency);
    const timeout = opts.timeoutMs ?? 30_000;
    const max = this.#opts.maxBody && this.#opts.maxBody > 0 ? this.#opts.maxBody : DEFAULT_MAX_BODY;
    return new Promise((resolve, reject) => {
      const h = new ResponseReader(method, path, max, opts.signal, resolve, reject, opts.into);
      h.arm(timeout);
      this.#pool.dispatch(
        {
          method,
          path: full,
          headers: this.#headers(),
          body: opts.body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        },
        h,
      );
    });
  }

  /** GET that throws ConsulHttpError on a non-2xx status unless it is listed in `allow`. */
  async get(path: string, opts: GetOptions = {}, allow: readonly number[] = []): Promise<ConsulResponse> {
    const r = await this.request('GET', path, opts);
    if ((r.status < 200 || r.status > 299) && !allow.includes(r.status))
      throw new ConsulHttpError('GET', path, r.status, r.body);
    return r;
  }

  async put(
    path: string,
    body: unknown,
    query?: Readonly<Record<string, string | number | true>>,
  ): Promise<ConsulResponse> {
    const r = await this.request('PUT', path, {
      body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body),
      query,
    });
    if (r.status < 200 || r.status > 299) throw new ConsulHttpError('PUT', path, r.status, r.body);
    return r;
  }

  /** Total requests sent to paths starting with `prefix`. */
  count(prefix: string): number {
    let n = 0;
    for (const [p, c] of this.requests) if (p.startsWith(prefix)) n += c;
    return n;
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
