import { createHash } from 'node:crypto';
import type { CertSourceSpec, Config } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import { CertStore } from './cert-store.ts';
import type { LoadedCert } from './pem-pairs.ts';
import { watchConsulSource } from './source-consul.ts';
import { loadClientCA, loadFileSource, loadPathSource } from './source-files.ts';
import { loadHttpSource } from './source-http.ts';

/** Builds a CertStore from a `proxy.cs` entry and keeps it fresh (polling or Consul watch). */

export class UnsupportedCertSourceError extends Error {
  constructor(spec: CertSourceSpec) {
    super(`cert source "${spec.name}": type ${spec.type} is not supported by fabio-ts`);
  }
}

/** fabio: refresh has a minimum of 1s; 0 loads once. */
export function effectiveRefresh(ms: number): number {
  return ms <= 0 ? 0 : Math.max(ms, 1000);
}

/** fabio's log line: `cert: Store has certificates for ["a.com,b.com"]` (Go %q of the joined names). */
function logStore(log: Logger, certs: readonly LoadedCert[]): void {
  const names: string[] = [];
  for (const c of certs) for (const n of c.names) if (!names.includes(n)) names.push(n);
  log.info(`cert: Store has certificates for [${JSON.stringify(names.join(','))}]`);
}

type Loader = () => Promise<{ certs: LoadedCert[]; errors: string[]; files: Map<string, string> }>;

/** A source location fit for a log line (no URL credentials). */
function where(spec: CertSourceSpec): string {
  if (!/^https?:\/\//i.test(spec.cert)) return spec.cert;
  const u = new URL(spec.cert);
  u.username = '';
  u.password = '';
  u.search = '';
  return u.toString();
}

/**
 * fabio's watch loop: load now, then every `refresh` (minimum 1s). A load that fails is logged as
 * `cert: Cannot load certificates from <where>. <error>` and retried every refresh (every second
 * when refresh is 0, until the first success) while the last good certificates stay in use; the
 * store only changes when the file contents changed.
 */
async function polled(
  store: CertStore,
  spec: CertSourceSpec,
  log: Logger,
  load: Loader,
  clientCA: string[],
): Promise<void> {
  let last = '';
  let loaded = false;
  const attempt = async () => {
    let r: Awaited<ReturnType<Loader>>;
    try {
      r = await load();
    } catch (e) {
      log.error(`cert: Cannot load certificates from ${where(spec)}. ${(e as Error).message}`);
      return;
    }
    loaded = true;
    for (const e of r.errors) log.error(e);
    const h = createHash('sha256');
    for (const [k, v] of [...r.files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${k}\0${v}\0`);
    const fp = h.digest('hex');
    if (fp === last) return;
    last = fp;
    store.set(r.certs, clientCA);
    logStore(log, r.certs);
  };
  store.set([], clientCA);
  await attempt();
  const once = spec.refresh <= 0;
  if (once && loaded) return;
  const every = effectiveRefresh(spec.refresh) || 1000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async () => {
    await attempt();
    if (!stopped && !(once && loaded)) timer = setTimeout(tick, every).unref();
  };
  timer = setTimeout(tick, every).unref();
  store.addCloser(() => {
    stopped = true;
    clearTimeout(timer);
  });
}

const fileLoader =
  (spec: CertSourceSpec): Loader =>
  async () => {
    const certs = await loadFileSource(spec);
    return {
      certs,
      errors: [],
      files: new Map([
        ['cert', certs[0]!.cert],
        ['key', certs[0]!.key],
      ]),
    };
  };

/**
 * Creates the store of one certificate source and performs its first load. As in fabio, a failed
 * certificate load is logged and retried (the store starts empty, handshakes fail until it loads);
 * it rejects for an unreadable `clientca`, a malformed consul URL, and the unsupported
 * types vault and vault-pki. Call store.close() to stop refreshing.
 */
export async function createCertStore(spec: CertSourceSpec, log: Logger): Promise<CertStore> {
  const store = new CertStore(spec.name);
  const clientCA = await loadClientCA(spec.clientCA, spec.header);
  if (spec.caUpgCN) log.warn(`cert source "${spec.name}": caupgcn is not supported by fabio-ts and is ignored`);
  switch (spec.type) {
    case 'file':
      await polled(store, spec, log, fileLoader(spec), clientCA);
      return store;
    case 'path':
      await polled(store, spec, log, () => loadPathSource(spec), clientCA);
      return store;
    case 'http':
      await polled(store, spec, log, () => loadHttpSource(spec), clientCA);
      return store;
    case 'consul': {
      store.set([], clientCA);
      const w = watchConsulSource(spec, log, (certs, errors) => {
        for (const e of errors) log.error(e);
        store.set(certs, clientCA);
        logStore(log, certs);
      });
      store.addCloser(() => w.stop());
      // Consul not reachable yet: keep watching (the loop retries), as fabio does.
      await w.first.catch((e: Error) => log.error(`cert: consul source ${spec.name}: ${e.message}`));
      return store;
    }
    default:
      throw new UnsupportedCertSourceError(spec);
  }
}

/** One store per `proxy.cs` entry, keyed by source name. On failure the stores made so far are closed. */
export async function certStoresFromConfig(
  cfg: Pick<Config, 'certSources'>,
  log: Logger,
): Promise<Map<string, CertStore>> {
  const out = new Map<string, CertStore>();
  try {
    for (const [name, spec] of cfg.certSources) out.set(name, await createCertStore(spec, log));
  } catch (e) {
    for (const s of out.values()) s.close();
    throw e;
  }
  return out;
}

const shared = new WeakMap<object, Map<string, Promise<CertStore>>>();

/**
 * The store of source `name` shared by every listener of one configuration: one refresh timer or
 * Consul watch per source however many listeners use it. Rejects with fabio's
 * `unknown certificate source "<name>"` when there is no such source. A failed load is not cached.
 */
export function sharedCertStore(cfg: Pick<Config, 'certSources'>, name: string, log: Logger): Promise<CertStore> {
  let m = shared.get(cfg);
  if (!m) {
    m = new Map();
    shared.set(cfg, m);
  }
  const hit = m.get(name);
  if (hit) return hit;
  const spec = cfg.certSources.get(name);
  if (!spec) return Promise.reject(new Error(`unknown certificate source "${name}"`));
  const p = createCertStore(spec, log);
  m.set(name, p);
  p.catch(() => m.delete(name));
  return p;
}

/** Closes the shared stores of a configuration (shutdown, tests). */
export async function closeSharedCertStores(cfg: Pick<Config, 'certSources'>): Promise<void> {
  const m = shared.get(cfg);
  if (!m) return;
  shared.delete(cfg);
  for (const p of m.values()) (await p.catch(() => undefined))?.close();
}
