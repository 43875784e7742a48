import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { md5Crypt, shaCrypt } from './crypt.ts';

/**
 * htpasswd files: `user:hash` lines. Supported hashes (as tg123/go-htpasswd, which fabio uses):
 * bcrypt `$2y$`/`$2a$`/`$2b$`, MD5-crypt `$apr1$` and `$1$`, SHA-crypt `$5$`/`$6$`, `{SHA}` and
 * `{SSHA}`. Traditional DES crypt and plain-text entries are not supported (reported, never match).
 */

export type HashKind = 'bcrypt' | 'apr1' | 'md5' | 'sha256crypt' | 'sha512crypt' | 'sha' | 'ssha';

export function hashKind(hash: string): HashKind | undefined {
  if (/^\$2[aby]?\$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('$1$')) return 'md5';
  if (hash.startsWith('$5$')) return 'sha256crypt';
  if (hash.startsWith('$6$')) return 'sha512crypt';
  if (hash.startsWith('{SHA}')) return 'sha';
  if (hash.startsWith('{SSHA}')) return 'ssha';
  return undefined;
}

function same(a: Buffer | string, b: Buffer | string): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Verifies everything but bcrypt (fast hashes); undefined for bcrypt or an unknown format. */
function verifyFast(kind: HashKind, hash: string, password: string): boolean | undefined {
  switch (kind) {
    case 'apr1':
      return same(md5Crypt(password, hash.slice(6), '$apr1$'), hash);
    case 'md5':
      return same(md5Crypt(password, hash.slice(3), '$1$'), hash);
    case 'sha256crypt':
    case 'sha512crypt': {
      const h = shaCrypt(password, hash);
      return h !== undefined && same(h, hash);
    }
    case 'sha':
      return same(createHash('sha1').update(password, 'utf8').digest('base64'), hash.slice(5));
    case 'ssha': {
      const raw = Buffer.from(hash.slice(6), 'base64');
      if (raw.length <= 20) return false;
      const salt = raw.subarray(20);
      return same(createHash('sha1').update(password, 'utf8').update(salt).digest(), raw.subarray(0, 20));
    }
    default:
      return undefined;
  }
}

/** Synchronous check (bcrypt blocks the event loop for its cost; callers cache results). */
export function verifyPassword(hash: string, password: string): boolean {
  const kind = hashKind(hash);
  if (kind === undefined) return false;
  if (kind === 'bcrypt') {
    try {
      return bcrypt.compareSync(password, hash);
    } catch {
      return false;
    }
  }
  return verifyFast(kind, hash, password) ?? false;
}

/** Asynchronous check: bcrypt yields to the event loop while it works. */
export async function verifyPasswordAsync(hash: string, password: string): Promise<boolean> {
  const kind = hashKind(hash);
  if (kind === undefined) return false;
  if (kind === 'bcrypt') return bcrypt.compare(password, hash).catch(() => false);
  return verifyFast(kind, hash, password) ?? false;
}

/**
 * Parses htpasswd text. Blank lines and `#` comments are skipped; malformed lines and unsupported
 * hash formats are reported through `warn` (with the line number) and left out.
 */
export function parseHtpasswd(text: string, warn: (msg: string) => void = () => {}): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      warn(`line ${i + 1}: malformed htpasswd entry`);
      continue;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).trim();
    if (hashKind(hash) === undefined) {
      warn(`line ${i + 1}: unsupported password hash for user "${user}"`);
      continue;
    }
    users.set(user, hash);
  }
  return users;
}
