import { createHash } from 'node:crypto';
import type { CertSourceSpec, Config } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import { CertStore } from './cert-store.ts';
import { keepLastGood, type LoadedCert, type PairedFiles } from './pem-pairs.ts';
import { watchConsulSource } from './source-consul.ts';
import { loadClientCA, loadFileSource, loadPathSource } from './source-files.ts';
import { loadHttpSource } from './source-http.ts';
import { loadVaultSource } from './source-vault.ts';
import { VaultPki } from './source-vault-pki.ts';
import { type Env, VaultClient } from './vault-client.ts';

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

type Loader = () => Promise<PairedFiles & { files: Map<string, string> }>;

/** A source location fit for a log line (no URL credentials). */
function where(spec: CertSourceSpec): string {
  if (!/^https?:\/\//i.test(spec.cert)) return spec.cert;
  const u = new URL(spec.cert);
  u.username = '';
  u.password = '';
  u.search = '';
  return u.toString();
}

const sameCerts = (a: readonly LoadedCert[], b: readonly LoadedCert[]): boolean =>
  a.length === b.length && a.every((c, i) => c.source === b[i]?.source && c.cert === b[i]?.cert && c.key === b[i]?.key);

/** Attempts after which a failure that persists is logged again, with its repeat count. */
const isReminder = (n: number): boolean => n >= 10 && 10 ** Math.round(Math.log10(n)) === n;

/**
 * The logging and last-good rule of one source, shared by the polled and the Consul sources:
 * - a load that fails as a whole keeps the whole previous set; it is logged once, then with its
 *   repeat count after 10, 100, 1000... attempts, and once more when the source loads again;
 * - a pair that fails to load keeps that file's previous pair (keepLastGood), said once per
 *   change, naming the file;
 * - the store is set, and `Store has certificates` logged, once per change of the certificates.
 */
class SourceState {
  readonly #store: CertStore;
  readonly #log: Logger;
  readonly #where: string;
  readonly #clientCA: readonly string[];
  #failure: { message: string; count: number } | undefined;
  /** Pair failures already reported: file → message. */
  #reported = new Map<string, string>();
  #fingerprint = '';

  constructor(store: CertStore, log: Logger, where: string, clientCA: readonly string[]) {
    this.#store = store;
    this.#log = log;
    this.#where = where;
    this.#clientCA = clientCA;
  }

  /** The whole load failed (unreadable directory, list URL down, Consul unreachable). */
  failed(message: string): void {
    const f = this.#failure;
    if (f === undefined || f.message !== message) {
      this.#failure = { message, count: 1 };
      this.#log.error(`cert: Cannot load certificates from ${this.#where}. ${message}`);
      return;
    }
    f.count++;
    if (isReminder(f.count))
      this.#log.error(`cert: Still cannot load certificates from ${this.#where} (${f.count} times). ${message}`);
  }

  /** A load that succeeded (possibly with pairs that did not load). */
  loaded(paired: PairedFiles, files: ReadonlyMap<string, string>): void {
    if (this.#failure !== undefined) {
      this.#log.info(
        `cert: Loaded certificates from ${this.#where} again after ${this.#failure.count} failed attempts`,
      );
      this.#failure = undefined;
    }
    const h = createHash('sha256');
    for (const [k, v] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) h.update(`${k}\0${v}\0`);
    const fp = h.digest('hex');
    if (fp === this.#fingerprint) return;
    this.#fingerprint = fp;
    const { certs, kept } = keepLastGood(this.#store.certificates, paired.certs, paired.failed);
    const reported = new Map<string, string>();
    for (const [file, message] of paired.failed) {
      reported.set(file, message);
      if (this.#reported.get(file) === message) continue;
      const old = kept.find((c) => c.source === file);
      this.#log.error(
        old
          ? `${message}; keeping the previous certificate of ${file} for [${JSON.stringify(old.names.join(','))}]`
          : `${message}; no previous certificate of ${file} to keep`,
      );
    }
    this.#reported = reported;
    // A broken file that kept its pair, or a file rewritten with the same bytes: nothing to swap.
    if (sameCerts(this.#store.certificates, certs)) return;
    this.#store.set(certs, this.#clientCA);
    logStore(this.#log, certs);
  }
}

/**
 * fabio's watch loop: load now, then every `refresh` (minimum 1s). A load that fails is logged as
 * `cert: Cannot load certificates from <where>. <error>` and retried every refresh (every second
 * when refresh is 0, until the first success) while the last good certificates stay in use; the
 * store only changes when the file contents changed.
 */
async function polled(store: CertStore, spec: CertSourceSpec, state: SourceState, load: Loader): Promise<void> {
  let loaded = false;
  const attempt = async () => {
    let r: Awaited<ReturnType<Loader>>;
    try {
      r = await load();
    } catch (e) {
      state.failed((e as Error).message);
      return;
    }
    loaded = true;
    state.loaded(r, r.files);
  };
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
      failed: new Map(),
      files: new Map([
        ['cert', certs[0]!.cert],
        ['key', certs[0]!.key],
      ]),
    };
  };

/** Stores being built or in use, by source: every listener of a source shares one. */
const open = new Map<CertSourceSpec, Promise<CertStore>>();

/**
 * The store of one certificate source, shared by every listener that uses the source (one refresh
 * timer or Consul watch, one reload and one log line per change, however many listeners): a second
 * call with the same spec returns the same store, and each caller's close() releases it (the last
 * one stops refreshing). As in fabio, a failed certificate load is logged and retried (the store
 * starts empty, handshakes fail until it loads); it rejects for an unreadable `clientca`, a
 * malformed consul URL. `env` (default process.env) holds Vault's variables (VAULT_ADDR, VAULT_TOKEN...).
 */
export function createCertStore(spec: CertSourceSpec, log: Logger, opts: { env?: Env } = {}): Promise<CertStore> {
  const hit = open.get(spec);
  if (hit) return hit.then((s) => s.retain());
  const p = buildCertStore(spec, log, opts.env ?? process.env);
  open.set(spec, p);
  p.then(
    (s) => s.addCloser(() => open.get(spec) === p && open.delete(spec)),
    () => open.get(spec) === p && open.delete(spec),
  );
  return p;
}

async function buildCertStore(spec: CertSourceSpec, log: Logger, env: Env): Promise<CertStore> {
  const store = new CertStore(spec.name);
  const clientCA = await loadClientCA(spec.clientCA, spec.header);
  if (spec.caUpgCN) log.warn(`cert source "${spec.name}": caupgcn is not supported by fabio-ts and is ignored`);
  store.set([], clientCA);
  const state = new SourceState(store, log, where(spec), clientCA);
  switch (spec.type) {
    case 'file':
      await polled(store, spec, state, fileLoader(spec));
      return store;
    case 'path':
      await polled(store, spec, state, () => loadPathSource(spec));
      return store;
    case 'http':
      await polled(store, spec, state, () => loadHttpSource(spec));
      return store;
    case 'consul': {
      const w = watchConsulSource(
        spec,
        (paired, files) => state.loaded(paired, files),
        (message) => state.failed(message),
      );
      store.addCloser(() => w.stop());
      // Consul not reachable yet: keep watching (the loop retries), as fabio does.
      await w.first.catch(() => {});
      return store;
    }
    case 'vault': {
      const vault = new VaultClient({ fetchToken: spec.vaultFetchToken, env, log });
      store.addCloser(() => vault.close());
      await polled(store, spec, state, () => loadVaultSource(spec, vault));
      return store;
    }
    case 'vault-pki': {
      const vault = new VaultClient({ fetchToken: spec.vaultFetchToken, env, log });
      const pki = new VaultPki(spec, vault, store, log);
      store.setIssuer(pki.ensure);
      store.addCloser(() => {
        pki.close();
        vault.close();
      });
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

/**
 * The store of source `name` of a configuration (createCertStore: shared per source). Rejects with
 * fabio's `unknown certificate source "<name>"` when there is no such source.
 */
export function sharedCertStore(cfg: Pick<Config, 'certSources'>, name: string, log: Logger): Promise<CertStore> {
  const spec = cfg.certSources.get(name);
  if (!spec) return Promise.reject(new Error(`unknown certificate source "${name}"`));
  return createCertStore(spec, log);
}

/** Closes the stores of a configuration's sources whatever their users (shutdown, tests). */
export async function closeSharedCertStores(cfg: Pick<Config, 'certSources'>): Promise<void> {
  for (const spec of cfg.certSources.values()) {
    const p = open.get(spec);
    if (p) (await p.catch(() => undefined))?.closeAll();
  }
}
