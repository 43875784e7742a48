import type { SecureContext, SecureContextOptions } from 'node:tls';
import tls from 'node:tls';
import type { LoadedCert } from './pem-pairs.ts';

/**
 * The certificates of one certificate source, replaced on every refresh that changed them (a pair
 * that fails to load keeps its previous version: create-store.ts), and the fabio
 * selection rule (section (k)) on top of them. Secure contexts are built once per certificate and
 * per listener profile (TLS versions, ciphers and client CA are properties of the context), and the
 * choice per server name is cached until the next refresh.
 */

export class NoCertificatesError extends Error {
  constructor() {
    super('cert: no certificates stored');
  }
}

/**
 * fabio's getCertificate over a name index: undefined = no certificate (strict and no match).
 * Throws NoCertificatesError when the store is empty.
 */
export function selectCert<T>(
  certs: readonly T[],
  index: ReadonlyMap<string, T>,
  serverName: string,
  strict: boolean,
): T | undefined {
  if (certs.length === 0) throw new NoCertificatesError();
  if (!strict && certs.length === 1) return certs[0];
  let name = serverName.toLowerCase();
  while (name.endsWith('.')) name = name.slice(0, -1);
  const exact = index.get(name);
  if (exact !== undefined) return exact;
  // Wildcards replacing labels left to right, cumulatively: *.b.c, *.*.c, *.*.* (as fabio does).
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    labels[i] = '*';
    const c = index.get(labels.join('.'));
    if (c !== undefined) return c;
  }
  return strict ? undefined : certs[0];
}

/** Name → certificate like Go's BuildNameToCertificate: a later certificate overwrites an earlier one. */
export function nameIndex<T extends { readonly names: readonly string[] }>(certs: readonly T[]): Map<string, T> {
  const m = new Map<string, T>();
  for (const c of certs) for (const n of c.names) m.set(n, c);
  return m;
}

export interface TlsProfile {
  readonly strict: boolean;
  readonly minVersion?: tls.SecureVersion;
  readonly maxVersion?: tls.SecureVersion;
  /** OpenSSL cipher string ('' = defaults). */
  readonly ciphers: string;
}

type Listener = () => void;

/**
 * On-demand certificates (vault-pki): called for every SNI name before selection. undefined = select
 * now; a promise = select once it settles (a rejection fails that handshake only).
 */
export type OnDemandIssuer = (serverName: string) => Promise<void> | undefined;

export class CertStore {
  readonly name: string;
  #certs: readonly LoadedCert[] = [];
  #index: ReadonlyMap<string, LoadedCert> = new Map();
  #clientCA: readonly string[] = [];
  #generation = 0;
  #listeners = new Set<Listener>();
  #closers: (() => void)[] = [];
  /** Users of a shared store (createCertStore hands the same store to every listener of a source). */
  #refs = 1;
  #issuer: OnDemandIssuer | undefined;

  constructor(name: string) {
    this.name = name;
  }

  /** Replaces the certificate set (and client CAs); listeners are told. */
  set(certs: readonly LoadedCert[], clientCA: readonly string[] = this.#clientCA): void {
    this.#certs = Object.freeze([...certs]);
    this.#index = nameIndex(this.#certs);
    this.#clientCA = Object.freeze([...clientCA]);
    this.#generation++;
    for (const l of this.#listeners) l();
  }

  get certificates(): readonly LoadedCert[] {
    return this.#certs;
  }

  /** Client CA certificates (PEM); non-empty means client certificates are required. */
  get clientCA(): readonly string[] {
    return this.#clientCA;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The on-demand issuer of the source, if it issues certificates per name (vault-pki). */
  get issuer(): OnDemandIssuer | undefined {
    return this.#issuer;
  }

  setIssuer(fn: OnDemandIssuer): void {
    this.#issuer = fn;
  }

  /** fabio's selection for a server name ('' when the client sent no SNI). */
  select(serverName: string, strict: boolean): LoadedCert | undefined {
    return selectCert(this.#certs, this.#index, serverName, strict);
  }

  /** Subscribe to certificate changes; returns the unsubscribe function. */
  onChange(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Registers cleanup (refresh timers, watches) run by close(). */
  addCloser(fn: () => void): void {
    this.#closers.push(fn);
  }

  /** One more user: close() must be called once more before the store stops refreshing. */
  retain(): this {
    this.#refs++;
    return this;
  }

  /** Releases one user; the last one stops refreshing. */
  close(): void {
    if (this.#refs > 0) this.#refs--;
    if (this.#refs > 0) return;
    for (const c of this.#closers.splice(0)) c();
    this.#listeners.clear();
  }

  /** Stops refreshing whatever the number of users (shutdown). */
  closeAll(): void {
    this.#refs = 1;
    this.close();
  }

  /** A per-listener view that hands out cached secure contexts. */
  contexts(profile: TlsProfile): ContextSelector {
    return new ContextSelector(this, profile);
  }
}

/** Secure contexts of one store for one listener profile, rebuilt lazily after a refresh. */
export class ContextSelector {
  readonly #store: CertStore;
  readonly #profile: TlsProfile;
  #generation = -1;
  #byCert = new Map<LoadedCert, SecureContext>();
  #byName = new Map<string, SecureContext | null>();

  constructor(store: CertStore, profile: TlsProfile) {
    this.#store = store;
    this.#profile = profile;
  }

  /** Context options shared by every context of this profile (no certificate). */
  baseOptions(): SecureContextOptions {
    const p = this.#profile;
    const o: SecureContextOptions = {};
    if (p.minVersion) o.minVersion = p.minVersion;
    if (p.maxVersion) o.maxVersion = p.maxVersion;
    if (p.ciphers) o.ciphers = p.ciphers;
    const ca = this.#store.clientCA;
    if (ca.length > 0) o.ca = [...ca];
    return o;
  }

  #sync(): void {
    if (this.#generation === this.#store.generation) return;
    this.#generation = this.#store.generation;
    this.#byCert = new Map();
    this.#byName = new Map();
  }

  #context(c: LoadedCert): SecureContext {
    let ctx = this.#byCert.get(c);
    if (!ctx) {
      ctx = tls.createSecureContext({ ...this.baseOptions(), cert: c.cert, key: c.key });
      this.#byCert.set(c, ctx);
    }
    return ctx;
  }

  /** The context for a server name; undefined when no certificate may be used. Throws when the store is empty. */
  select(serverName: string): SecureContext | undefined {
    this.#sync();
    const hit = this.#byName.get(serverName);
    if (hit !== undefined) return hit ?? undefined;
    const cert = this.#store.select(serverName, this.#profile.strict);
    const ctx = cert ? this.#context(cert) : undefined;
    // Bounded: SNI names are attacker-chosen, so only remember a few thousand.
    if (this.#byName.size >= 4096) this.#byName.clear();
    this.#byName.set(serverName, ctx ?? null);
    return ctx;
  }

  /** The certificate used for clients without SNI (first one unless strict), as context options. */
  defaultCert(): { cert: string; key: string } | undefined {
    if (this.#store.certificates.length === 0) return undefined;
    const c = this.#store.select('', this.#profile.strict);
    return c ? { cert: c.cert, key: c.key } : undefined;
  }
}
