import type { CertSourceSpec } from '../../config/types.ts';
import type { PairedFiles } from './pem-pairs.ts';
import { pairPemFiles } from './pem-pairs.ts';

/**
 * `type=consul`: `cert=http(s)://host:port/v1/kv/<prefix>?token=<t>`. Watches the KV prefix with
 * blocking queries; the base name of each key is the file name for fabio's pairing rules.
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

const WAIT = '5m';
const RETRY_MS = 1000;

export function parseConsulUrl(cert: string): { base: string; prefix: string; token: string } {
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
  let last = '';
  const headers: Record<string, string> = { ...spec.header };
  if (token) headers['x-consul-token'] = token;

  const once = async (): Promise<void> => {
    const q = new URLSearchParams({ recurse: 'true' });
    if (index > 0) {
      q.set('index', String(index));
      q.set('wait', WAIT);
    }
    const res = await fetch(`${base}/v1/kv/${encodeURI(prefix)}?${q}`, { headers, signal: ac.signal });
    const body = await res.text();
    if (res.status !== 200 && res.status !== 404) throw new Error(`cert: consul KV ${prefix}: HTTP ${res.status}`);
    const next = Number(res.headers.get('x-consul-index') ?? '0');
    // Consul: an index that goes backwards means a reset; start over (api docs, blocking queries).
    index = Number.isFinite(next) && next > index ? next : next < index ? 0 : index;
    const parsed = res.status === 404 ? [] : (JSON.parse(body) as unknown);
    const entries = (Array.isArray(parsed) ? parsed : []) as KvEntry[];
    const files = new Map<string, string>();
    for (const e of entries) {
      // Untrusted input: entries of the wrong shape are skipped.
      if (!e || typeof e.Key !== 'string' || typeof e.Value !== 'string' || e.Key.endsWith('/')) continue;
      files.set(e.Key.slice(e.Key.lastIndexOf('/') + 1), Buffer.from(e.Value, 'base64').toString('utf8'));
    }
    const fp = JSON.stringify([...files].sort());
    if (fp === last) return;
    last = fp;
    onCerts(pairPemFiles(files), files);
  };

  const pause = () =>
    new Promise<void>((r) => {
      const t = setTimeout(r, RETRY_MS);
      ac.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          r();
        },
        { once: true },
      );
    });
  const first = once().catch((e: Error) => {
    onError(e.message);
    throw e;
  });
  const loop = async () => {
    await first.catch(() => {});
    while (!ac.signal.aborted) {
      try {
        await once();
        // Without an index Consul cannot block; do not spin.
        if (index === 0) await pause();
      } catch (e) {
        if (ac.signal.aborted) return;
        onError((e as Error).message);
        await pause();
      }
    }
  };
  void loop();
  return { first, stop: () => ac.abort() };
}
