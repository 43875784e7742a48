import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseWait } from './durations.ts';

/** Request/response plumbing shared by the endpoint modules: bodies, headers, blocking queries. */

export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export interface Reply {
  readonly status: number;
  readonly index: number;
  /** JSON text (plain text for errors, bytes for ?raw, byte blocks written in order for large lists). */
  readonly body: string | Buffer | readonly Buffer[];
  readonly contentType?: string;
  /** Agent endpoints: X-Consul-ContentHash, for hash-based blocking (?hash=). */
  readonly hash?: string;
}

export interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  /** Aborted when the client goes away or the catalog closes. */
  readonly signal: AbortSignal;
}

export function json(value: unknown, index: number, status = 200): Reply {
  return { status, index, body: JSON.stringify(value) };
}

export function send(ctx: Ctx, r: Reply): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  let body: string | Buffer | readonly Buffer[] = r.body;
  if (body.length > 0 && ctx.query.has('pretty') && r.status === 200 && r.contentType === undefined) {
    const text = Array.isArray(body) ? Buffer.concat(body).toString() : body.toString();
    body = JSON.stringify(JSON.parse(text), null, 4);
  }
  const blocks = Array.isArray(body) ? (body as readonly Buffer[]) : undefined;
  let length = 0;
  if (blocks !== undefined) for (const b of blocks) length += b.length;
  else length = Buffer.byteLength(body as string | Buffer);
  res.writeHead(r.status, {
    'Content-Type': r.contentType ?? (r.status === 200 ? 'application/json' : 'text/plain; charset=utf-8'),
    'Content-Length': length,
    'X-Consul-Index': String(Math.max(1, r.index)),
    'X-Consul-KnownLeader': 'true',
    'X-Consul-LastContact': '0',
    ...(r.hash !== undefined ? { 'X-Consul-ContentHash': r.hash } : {}),
    'X-Consul-Effective-Consistency': ctx.query.has('stale')
      ? 'stale'
      : ctx.query.has('consistent')
        ? 'consistent'
        : 'leader',
  });
  if (blocks === undefined) {
    res.end(body);
    return;
  }
  // one writev of the blocks: a 50 MB list is not copied into one buffer first
  res.cork();
  for (const b of blocks) res.write(b);
  res.end();
}

/** Reads the whole body up to `limit` bytes (413 beyond, as Consul answers for KV values). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        reject(
          new HttpError(
            413,
            `Request body(${size} bytes) too large, max size: ${limit} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.`,
          ),
        );
        req.resume();
        return;
      }
      chunks.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const buf = await readBody(req, 1 << 20);
  if (buf.length === 0) return {};
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
  }
}

/** How blocking queries behave (one per catalog). */
export interface BlockingPolicy {
  /** Add up to wait/16 random jitter as Consul does (off in tests for exact timing). */
  readonly jitter: boolean;
  /**
   * Consul keeps blocking while the current index is <= the requested one, so a client holding
   * an index from before a restart waits for its timeout. false (default): answer at once when
   * the index is lower, which lets clients reset immediately after a dev-catalog restart.
   */
  readonly lowerIndexBlocks: boolean;
  /** Bumped when every blocked query must return (index reset, close), like Consul's abandon. */
  readonly epoch: () => number;
}

export interface BlockingOptions extends BlockingPolicy {
  /** Park the request until `topic` is notified or `ms` elapse. */
  readonly park: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_WAIT = 5 * 60_000;
const MAX_WAIT = 10 * 60_000;

/**
 * Consul's blocking query: without ?index (or index=0) answer at once; otherwise answer as soon
 * as the result's index differs from the requested one (greater after a write, smaller after an
 * index reset) or when wait (+ jitter) elapses, with whatever is current then. Agent endpoints
 * also block on ?hash= (answer when the content hash differs), as Consul's agent does.
 */
export async function blocking(ctx: Ctx, opts: BlockingOptions, compute: () => Reply): Promise<Reply> {
  let r = compute();
  const idxText = ctx.query.get('index') ?? '';
  const hashText = r.hash !== undefined ? (ctx.query.get('hash') ?? '') : '';
  if (idxText === '' && hashText === '') return r;
  if (hashText === '' && !/^\d+$/.test(idxText)) throw new HttpError(400, 'Invalid index');
  const min = Number(idxText);
  const changed =
    hashText !== ''
      ? (x: Reply) => x.hash !== hashText
      : opts.lowerIndexBlocks
        ? (x: Reply) => x.index > min
        : (x: Reply) => x.index !== min;
  const epoch = opts.epoch();
  let wait = DEFAULT_WAIT;
  const waitText = ctx.query.get('wait');
  if (waitText !== null && waitText !== '') {
    const w = parseWait(waitText);
    if (w === undefined || w < 0) throw new HttpError(400, 'Invalid wait time');
    // Consul: wait <= 0 means the default, and the maximum is 10m.
    wait = w === 0 ? DEFAULT_WAIT : Math.min(w, MAX_WAIT);
  }
  if ((hashText === '' && min === 0) || changed(r)) return r;
  if (opts.jitter) wait += Math.floor(Math.random() * (wait / 16));
  const deadline = Date.now() + wait;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0 || ctx.signal.aborted) return r;
    await opts.park(left, ctx.signal);
    r = compute();
    if (changed(r) || opts.epoch() !== epoch) return r;
  }
}

export function isTrue(q: URLSearchParams, name: string): boolean {
  if (!q.has(name)) return false;
  const v = q.get(name);
  return v === '' || v === 'true' || v === '1';
}
