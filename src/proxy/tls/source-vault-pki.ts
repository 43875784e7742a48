import { X509Certificate } from 'node:crypto';
import type { CertSourceSpec } from '../../config/types.ts';
import { clip } from '../../log/clip.ts';
import type { Logger } from '../../log/logger.ts';
import type { CertStore } from './cert-store.ts';
import { type LoadedCert, makePair } from './pem-pairs.ts';
import type { VaultClient } from './vault-client.ts';

/**
 * `type=vault-pki`: `cert` is a PKI issue path (`pki/issue/<role>`). The first handshake for an SNI
 * name issues a certificate (`POST <path>` with `common_name`), which is cached in the source's
 * store and served until it is due again: a new one is issued `refresh` (at least 1 h, fabio's
 * floor) before it expires, or after two thirds of its lifetime when that is shorter (short-lived
 * certificates), in the background while the current one is still served. Listeners of a vault-pki
 * source always match strictly (config/listener.ts): a name without a certificate gets none.
 *
 * SNI names are chosen by the client, so everything here is bounded: concurrent handshakes for one
 * name share one request; at most MAX_INFLIGHT different names are being issued at once; a name
 * Vault refused is not asked again for FAIL_TTL (its handshakes fail at once meanwhile); at most
 * MAX_NAMES certificates are kept (the one expiring soonest makes room). A Vault failure fails the
 * handshakes of that name only; a certificate that is due but still valid keeps being served.
 */

const HOUR = 3_600_000;
const MAX_INFLIGHT = 64;
const MAX_NAMES = 10_000;
const FAIL_TTL = 10_000;
const NAME_RE = /^[a-z0-9*](?:[a-z0-9*.-]{0,251}[a-z0-9])?$/;

interface Issued {
  readonly cert: LoadedCert;
  readonly notAfter: number;
  readonly renewAt: number;
}

/** When a certificate valid from `issuedAt` to `notAfter` is issued again. */
export function renewAt(issuedAt: number, notAfter: number, refreshMs: number): number {
  const lifetime = Math.max(0, notAfter - issuedAt);
  return notAfter - Math.min(Math.max(refreshMs, HOUR), lifetime / 3);
}

export class VaultPki {
  readonly #spec: CertSourceSpec;
  readonly #vault: VaultClient;
  readonly #store: CertStore;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #issued = new Map<string, Issued>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #failed = new Map<string, { until: number; error: Error }>();
  /** The Vault error of the current failure episode ('' = none). */
  #failing = '';
  #closed = false;

  constructor(spec: CertSourceSpec, vault: VaultClient, store: CertStore, log: Logger, now: () => number = Date.now) {
    this.#spec = spec;
    this.#vault = vault;
    this.#store = store;
    this.#log = log;
    this.#now = now;
  }

  /** The OnDemandIssuer of the store: undefined when the name's certificate can be served now. */
  readonly ensure = (serverName: string): Promise<void> | undefined => {
    let name = serverName.toLowerCase();
    while (name.endsWith('.')) name = name.slice(0, -1);
    if (name === '' || this.#closed) return undefined;
    const now = this.#now();
    const have = this.#issued.get(name);
    if (have !== undefined && now < have.notAfter) {
      if (now >= have.renewAt && this.#failedFor(name, now) === undefined) this.#issue(name).catch(() => {});
      return undefined;
    }
    const failed = this.#failedFor(name, now);
    if (failed !== undefined) return Promise.reject(failed);
    return this.#issue(name);
  };

  #failedFor(name: string, now: number): Error | undefined {
    const f = this.#failed.get(name);
    if (f === undefined) return undefined;
    if (now < f.until) return f.error;
    this.#failed.delete(name);
    return undefined;
  }

  #issue(name: string): Promise<void> {
    const running = this.#inflight.get(name);
    if (running !== undefined) return running;
    if (!NAME_RE.test(name))
      return Promise.reject(new Error(`cert: vault-pki: not a host name: ${JSON.stringify(clip(name, 64))}`));
    if (this.#inflight.size >= MAX_INFLIGHT)
      return Promise.reject(new Error('cert: vault-pki: too many certificates being issued at once'));
    const p = this.#request(name).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  async #request(name: string): Promise<void> {
    const issuedAt = this.#now();
    let cert: LoadedCert;
    let notAfter: number;
    try {
      const r = await this.#vault.call('POST', this.#spec.cert, { common_name: name });
      const d = (r.data ?? {}) as Record<string, unknown>;
      if (typeof d.certificate !== 'string' || typeof d.private_key !== 'string')
        throw new Error('answer has no certificate and private_key');
      const chain = Array.isArray(d.ca_chain)
        ? d.ca_chain.filter((c): c is string => typeof c === 'string')
        : typeof d.issuing_ca === 'string'
          ? [d.issuing_ca]
          : [];
      const pem = [d.certificate, ...chain].map((c) => `${c.trim()}\n`).join('');
      cert = makePair(`${this.#spec.cert} ${name}`, pem, d.private_key);
      notAfter = Date.parse(new X509Certificate(d.certificate).validTo);
      // Vault's `expiration` (unix seconds) when it is earlier than what the certificate says
      if (typeof d.expiration === 'number' && d.expiration * 1000 < notAfter) notAfter = d.expiration * 1000;
    } catch (e) {
      const msg = `cert: Cannot issue certificate for ${JSON.stringify(clip(name, 64))} from ${this.#spec.cert}. ${(e as Error).message}`;
      const error = new Error(msg, { cause: e });
      if (this.#failed.size >= MAX_NAMES) this.#failed.clear();
      this.#failed.set(name, { until: this.#now() + FAIL_TTL, error });
      // one ERROR line per episode (a Vault outage fails every name the same way), the rest at DEBUG
      const reason = (e as Error).message;
      if (reason !== this.#failing) this.#log.error(msg);
      else this.#log.debug(msg);
      this.#failing = reason;
      throw error;
    }
    if (this.#closed) return;
    this.#issued.delete(name);
    if (this.#issued.size >= MAX_NAMES) this.#evict();
    this.#issued.set(name, { cert, notAfter, renewAt: renewAt(issuedAt, notAfter, this.#spec.refresh) });
    this.#failed.delete(name);
    this.#failing = '';
    this.#store.set([...this.#issued.values()].map((i) => i.cert));
    this.#log.info(
      `cert: Issued certificate for ${JSON.stringify(name)} from ${this.#spec.cert}, valid until ${new Date(notAfter).toISOString()}`,
    );
  }

  /** Makes room: the certificate expiring soonest goes. */
  #evict(): void {
    let first: string | undefined;
    let at = Number.POSITIVE_INFINITY;
    for (const [n, i] of this.#issued)
      if (i.notAfter < at) {
        at = i.notAfter;
        first = n;
      }
    if (first !== undefined) this.#issued.delete(first);
  }

  close(): void {
    this.#closed = true;
  }
}
