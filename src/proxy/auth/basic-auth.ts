import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { AuthSchemeSpec } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import { hashKind, parseHtpasswd, verifyPassword, verifyPasswordAsync } from './htpasswd.ts';

/**
 * One `type=basic` scheme: an htpasswd file, optionally reloaded when its mtime changes (refresh,
 * minimum 1s). If the file disappears every request is refused until it comes back (fabio).
 * Verified results are cached briefly, keyed by a hash of the credentials and the file generation,
 * because bcrypt costs tens of milliseconds per check.
 */

export interface AuthResult {
  readonly ok: boolean;
  /** WWW-Authenticate value for the 401 answer. */
  readonly challenge?: string;
}

const CACHE_MAX = 10_000;
const CACHE_TTL_MS = 60_000;

/** `Basic <base64(user:pass)>` → [user, pass]; the scheme name is case-insensitive (RFC 7617). */
export function parseBasic(header: string | undefined): [string, string] | undefined {
  if (!header) return undefined;
  const m = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const dec = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = dec.indexOf(':');
  return i < 0 ? undefined : [dec.slice(0, i), dec.slice(i + 1)];
}

export class BasicAuth {
  readonly #spec: AuthSchemeSpec;
  readonly #log: Logger;
  readonly #fail: AuthResult;
  #users: ReadonlyMap<string, string> = new Map();
  #mtime: number | undefined;
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #cache = new LRUCache<string, boolean>({ max: CACHE_MAX, ttl: CACHE_TTL_MS });

  /** Reads the file now; throws when it cannot be read (fabio refuses to start then). */
  constructor(spec: AuthSchemeSpec, log: Logger) {
    this.#spec = spec;
    this.#log = log;
    this.#fail = Object.freeze({ ok: false, challenge: `Basic realm="${spec.realm || spec.name}"` });
    const st = statSync(spec.file);
    this.#load(st.mtimeMs);
    if (spec.refresh > 0) {
      this.#timer = setInterval(() => this.refresh(), Math.max(spec.refresh, 1000));
      this.#timer.unref();
    }
  }

  #load(mtime: number): void {
    const text = readFileSync(this.#spec.file, 'utf8');
    this.#users = parseHtpasswd(text, (m) => this.#log.warn(`auth: ${this.#spec.file}: ${m}`));
    this.#mtime = mtime;
    this.#generation++;
  }

  /** Reloads when the file's mtime changed; clears every credential while the file is missing. */
  refresh(): void {
    let mtime: number;
    try {
      mtime = statSync(this.#spec.file).mtimeMs;
    } catch {
      if (this.#mtime !== undefined) {
        this.#log.warn(
          `auth: ${this.#spec.file} is gone; refusing every request of scheme "${this.#spec.name}" until it returns`,
        );
        this.#users = new Map();
        this.#mtime = undefined;
        this.#generation++;
      }
      return;
    }
    if (mtime === this.#mtime) return;
    try {
      this.#load(mtime);
      this.#log.info(`auth: reloaded ${this.#spec.file} (${this.#users.size} users)`);
    } catch (e) {
      this.#log.error(`auth: ${this.#spec.file}: ${(e as Error).message}`);
    }
  }

  #key(user: string, pass: string): string {
    return createHash('sha256').update(`${this.#generation}\0${user}\0${pass}`).digest('base64');
  }

  /**
   * The answer the credentials have without a new password verification (no credentials, unknown
   * user, or a cached result), else what a verification needs.
   */
  #lookup(header: string | undefined): AuthResult | Pending {
    const cred = parseBasic(header);
    if (!cred) return this.#fail;
    const hash = this.#users.get(cred[0]);
    if (hash === undefined) return this.#fail;
    const key = this.#key(cred[0], cred[1]);
    const ok = this.#cache.get(key);
    if (ok !== undefined) return ok ? OK : this.#fail;
    return { hash, pass: cred[1], key };
  }

  #settle(p: Pending, ok: boolean): AuthResult {
    this.#cache.set(p.key, ok);
    return ok ? OK : this.#fail;
  }

  /** Synchronous check (an uncached bcrypt entry blocks for its cost). */
  check(header: string | undefined): AuthResult {
    const r = this.#lookup(header);
    return 'hash' in r ? this.#settle(r, verifyPassword(r.hash, r.pass)) : r;
  }

  /**
   * The answer when it is cheap to give now (no credentials, unknown user, a fast hash, or a cached
   * result); undefined when an uncached bcrypt verification is needed (then use checkAsync).
   */
  tryCheck(header: string | undefined): AuthResult | undefined {
    const r = this.#lookup(header);
    if (!('hash' in r)) return r;
    if (hashKind(r.hash) === 'bcrypt') return undefined;
    return this.#settle(r, verifyPassword(r.hash, r.pass));
  }

  /** Like check() but bcrypt does not block the event loop. */
  async checkAsync(header: string | undefined): Promise<AuthResult> {
    const r = this.#lookup(header);
    if (!('hash' in r)) return r;
    const gen = this.#generation;
    const ok = await verifyPasswordAsync(r.hash, r.pass);
    // a reload while verifying: the answer stands for this request, the cache belongs to the new file
    if (gen !== this.#generation) return ok ? OK : this.#fail;
    return this.#settle(r, ok);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#cache.clear();
  }
}

const OK: AuthResult = Object.freeze({ ok: true });

/** Credentials of a known user whose result is not cached yet. */
interface Pending {
  readonly hash: string;
  readonly pass: string;
  readonly key: string;
}
