import { createPrivateKey, X509Certificate } from 'node:crypto';

/**
 * Turns a set of named PEM files (from a directory, an HTTP list or a Consul KV prefix) into
 * certificate/key pairs with fabio's naming rules: `<n>-cert.pem` + `<n>-key.pem`, or a combined
 * `<n>.pem` holding both. Pairs are ordered by cert file name; the first is the default certificate.
 */

export interface LoadedCert {
  /** Where it came from (file name, URL or KV key) — for logs. */
  readonly source: string;
  readonly cert: string;
  readonly key: string;
  /** Lower-cased subject CN (if any) followed by the DNS subjectAltNames, in certificate order. */
  readonly names: readonly string[];
}

/** Subject CN and DNS SANs of the leaf (first) certificate of a PEM chain, lower-cased. */
export function certNames(certPem: string): string[] {
  const x = new X509Certificate(certPem);
  const names: string[] = [];
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1];
  if (cn) names.push(cn.toLowerCase());
  for (const part of (x.subjectAltName ?? '').split(', ')) {
    if (!part.startsWith('DNS:')) continue;
    const n = part.slice(4).replace(/^"|"$/g, '').toLowerCase();
    if (n && !names.includes(n)) names.push(n);
  }
  return names;
}

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\r?\n?/g;
const KEY_RE = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----\r?\n?/;

/** Validates a cert/key pair and returns it, or throws with a message naming the file. */
export function makePair(source: string, certPem: string, keyPem: string): LoadedCert {
  const certs = certPem.match(CERT_RE);
  if (!certs) throw new Error(`cert: ${source}: no certificate found`);
  const key = KEY_RE.exec(keyPem)?.[0];
  if (!key) throw new Error(`cert: ${source}: no private key found`);
  try {
    createPrivateKey(key);
    const names = certNames(certs[0]!);
    if (!new X509Certificate(certs[0]!).checkPrivateKey(createPrivateKey(key)))
      throw new Error('private key does not match certificate');
    return { source, cert: certs.join(''), key, names };
  } catch (e) {
    throw new Error(`cert: ${source}: ${(e as Error).message}`);
  }
}

export interface PairedFiles {
  readonly certs: LoadedCert[];
  /** One message per pair that did not load (also in `failed`). */
  readonly errors: string[];
  /** Certificate file name (the `source` its pair would have) → why it did not load. */
  readonly failed: Map<string, string>;
}

/**
 * Pairs files by fabio's naming rules. Files that do not end in `.pem`, orphan `-key.pem` files and
 * invalid pairs are skipped; each problem is returned in `errors` so the caller can log it.
 */
export function pairPemFiles(files: ReadonlyMap<string, string>): PairedFiles {
  const names = [...files.keys()].filter((n) => n.endsWith('.pem')).sort();
  const certs: LoadedCert[] = [];
  const errors: string[] = [];
  const failed = new Map<string, string>();
  for (const name of names) {
    if (name.endsWith('-key.pem')) continue;
    const body = files.get(name)!;
    let key = body;
    if (name.endsWith('-cert.pem')) {
      const keyName = `${name.slice(0, -'-cert.pem'.length)}-key.pem`;
      key = files.get(keyName) ?? body;
    }
    try {
      certs.push(makePair(name, body, key));
    } catch (e) {
      errors.push((e as Error).message);
      failed.set(name, (e as Error).message);
    }
  }
  return { certs, errors, failed };
}

/**
 * The last good pair rule: a pair that failed to load (a half-written, truncated or mismatched
 * file) keeps the pair loaded from the same file before, so its names are not served another
 * site's certificate meanwhile. A file that is gone is dropped. Returns the merged set (ordered by
 * file name, like pairPemFiles) and the pairs that were kept.
 */
export function keepLastGood(
  previous: readonly LoadedCert[],
  next: readonly LoadedCert[],
  failed: ReadonlyMap<string, string>,
): { certs: LoadedCert[]; kept: LoadedCert[] } {
  const kept = previous.filter((c) => failed.has(c.source) && !next.some((n) => n.source === c.source));
  if (kept.length === 0) return { certs: [...next], kept };
  const certs = [...next, ...kept].sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  return { certs, kept };
}

/** All certificates in a PEM text (client CA bundles). */
export function pemCertificates(text: string): string[] {
  return text.match(CERT_RE) ?? [];
}
