import type { AuthSchemeSpec } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import type { AuthResult } from './basic-auth.ts';
import { BasicAuth } from './basic-auth.ts';

/** Route option `auth=<scheme>` (section (l)): the schemes of `proxy.auth`, checked per request. */

export interface Auth {
  /** Unknown scheme → never ok (fabio answers 401). Uncached bcrypt entries block for their cost. */
  check(scheme: string, authorizationHeader: string | undefined): AuthResult;
  /**
   * The answer if it needs no bcrypt work (cached, fast hash, no/unknown credentials), else
   * undefined: then await checkAsync(). Lets a request handler stay synchronous on the common path.
   */
  tryCheck(scheme: string, authorizationHeader: string | undefined): AuthResult | undefined;
  /** Same answer as check(), without blocking the event loop on bcrypt. */
  checkAsync(scheme: string, authorizationHeader: string | undefined): Promise<AuthResult>;
  close(): void;
}

const DENY: AuthResult = Object.freeze({ ok: false });

/** Loads every scheme's htpasswd file now; throws (naming the scheme) when one cannot be read. */
export function createAuth(schemes: ReadonlyMap<string, AuthSchemeSpec>, log: Logger): Auth {
  const byName = new Map<string, BasicAuth>();
  try {
    for (const [name, spec] of schemes) {
      try {
        byName.set(name, new BasicAuth(spec, log));
      } catch (e) {
        throw new Error(`auth scheme "${name}": ${(e as Error).message}`, { cause: e });
      }
    }
  } catch (e) {
    for (const a of byName.values()) a.close();
    throw e;
  }
  return {
    check: (scheme, header) => byName.get(scheme)?.check(header) ?? DENY,
    tryCheck: (scheme, header) => {
      const a = byName.get(scheme);
      return a ? a.tryCheck(header) : DENY;
    },
    checkAsync: async (scheme, header) => (await byName.get(scheme)?.checkAsync(header)) ?? DENY,
    close: () => {
      for (const a of byName.values()) a.close();
    },
  };
}

export type { AuthResult } from './basic-auth.ts';
export { BasicAuth, parseBasic } from './basic-auth.ts';
export { md5Crypt, shaCrypt } from './crypt.ts';
export { hashKind, parseHtpasswd, verifyPassword, verifyPasswordAsync } from './htpasswd.ts';
