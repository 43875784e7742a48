import type { CertSourceSpec } from '../../config/types.ts';
import type { PairedFiles } from './pem-pairs.ts';
import { pairPemFiles } from './pem-pairs.ts';

/**
 * `type=consul`: `cert=http(s)://host:port/v1/kv/<prefix>?token=<t>`. Watches the KV prefix with
 * blocking queries; the base name of each key is the file name for fabio's pairing rules. The
 * answers are untrusted input, as in the Consul registry: a total deadline per read, a body cap,
 * Consul's index rules, and backoff with jitter after errors and early answers. (proxy/ may not
 * import registry/, so this small loop is separate from registry/consul/blocking.ts.)
 */

interface KvEntry {
  Key: string;
  Value: string | null;
}

export interface ConsulWatch {
  /** Resolves with the first result (or rejects when the first request fails). */
  readonly first: Promise<void>;
  stop(): void;
}

const WAIT_MS = 5 * 60_000;
/** Deadline of a whole read (headers and body): a blocking one gets the wait, Consul's jitter and a margin. */
const READ_MS = 30_000;
/** Certificates and keys are small (Consul KV values are at most 512 KB): a larger answer is refused. */
const MAX_BODY = 32 * 1024 * 1024;
/** Backoff after errors and early answers: 1 s doubling to 10 s, plus up to 50 % jitter. */
const RETRY_MS = 1000;
const MAX_RETRY_MS = 10_000;

/** Reads a response body up to `max` bytes; throws (and cancels the transfer) beyond it. */
async function boundedText(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new Error(`answer larger than ${max} bytes`);
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new Error(`answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function parseConsulUrl(cert: string): { base: string; prefix: string; token: string } {
  const u = new URL(cert);
  const m = /^\/v1\/kv\/(.*)$/.exec(u.pathname);
  if (!m) throw new Error(`cert: consul source URL must be http(s)://host:port/v1/kv/<prefix>: ${cert}`);
  return { base: u.origin, prefix: decodeURIComponent(m[1]!), token: u.searchParams.get('token') ?? '' };
}

/**
 * Starts watching; onCerts is called with every changed set of pairs (and pairing errors) and the
 * files they came from, onError with each failed read (the caller logs once per episode).
 */
export function watchConsulSource(
  spec: CertSourceSpec,
  onCerts: (paired: PairedFiles, files: ReadonlyMap<string, string>) => void,
  onError: (message: string) => void,
): ConsulWatch {
  const { base, prefix, token } = parseConsulUrl(spec.cert);
  const ac = new AbortController();
  let index = 0;
  const headers: Record<string, string> = { ...spec.header };
  if (token) headers['x-consul-token'] = token;

  /** One read; returns whether it misbehaved (a blocking read answered early without a newer index). */
  const once = async (): Promise<boolean> => {
    const q = new URLSearchParams({ recurse: 'true' });
    const blocking = index > 0;
    if (blocking) {
      q.set('index', String(index));
      q.set('wait', `${WAIT_MS / 1000}s`);
    }
    // The caller's stop and the total deadline end the request, headers and body together.
    const deadline = blocking ? WAIT_MS + WAIT_MS / 16 + READ_MS : READ_MS;
    const req = new AbortController();
    const stop = () => req.abort();
    ac.signal.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(stop, deadline);
    const sent = performance.now();
    let status: number;
    let body: string;
    let header: string | null;
    try {
      const res = await fetch(`${base}/v1/kv/${encodeURI(prefix)}?${q}`, { headers, signal: req.signal });
      status = res.status;
      header = res.headers.get('x-consul-index');
      body = await boundedText(res, MAX_BODY);
    } catch (e) {
      if (req.signal.aborted && !ac.signal.aborted) throw new Error(`no complete answer within ${deadline / 1000}s`);
      throw e;
    } finally {
      clearTimeout(timer);
      ac.signal.removeEventListener('abort', stop);
    }
    if (status !== 200 && status !== 404) throw new Error(`cert: consul KV ${prefix}: HTTP ${status}`);
    // Consul's index rules: 0, negative or garbage reads as 1; backwards means a reset (start over).
    const n = Number(header);
    const next = Number.isSafeInteger(n) && n > 0 ? n : 1;
    const early = blocking && next <= index && performance.now() - sent < WAIT_MS / 2;
    index = next < index ? 0 : next;
    const parsed = status === 404 ? [] : (JSON.parse(body) as unknown);
    const entries = (Array.isArray(parsed) ? parsed : []) as KvEntry[];
    const files = new Map<string, string>();
    for (const e of entries) {
      // Untrusted input: entries of the wrong shape are skipped.
      if (!e || typeof e.Key !== 'string' || typeof e.Value !== 'string' || e.Key.endsWith('/')) continue;
      files.set(e.Key.slice(e.Key.lastIndexOf('/') + 1), Buffer.from(e.Value, 'base64').toString('utf8'));
    }
    // The caller compares with the last files: an unchanged answer changes nothing and logs nothing.
    onCerts(pairPemFiles(files), files);
    return early;
  };

  const pause = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      ac.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          r();
        },
        { once: true },
      );
    });
  let streak = 0;
  const backoff = () => {
    streak++;
    const base = Math.min(RETRY_MS * 2 ** Math.min(streak - 1, 30), MAX_RETRY_MS);
    return pause(base + base * 0.5 * Math.random());
  };
  let firstBad = false;
  const first = once().then(
    (early) => {
      firstBad = early;
    },
    (e: Error) => {
      onError(e.message);
      firstBad = true;
      throw e;
    },
  );
  const loop = async () => {
    await first.catch(() => {});
    if (firstBad) await backoff();
    while (!ac.signal.aborted) {
      try {
        if (await once()) await backoff();
        else streak = 0;
      } catch (e) {
        if (ac.signal.aborted) return;
        onError((e as Error).message);
        await backoff();
      }
    }
  };
  void loop();
  return { first, stop: () => ac.abort() };
}
