import type { TLSSocket } from 'node:tls';

/**
 * Cipher suite names and ids as Go's crypto/tls knows them (fabio's `tlsciphers=` accepts the Go
 * names case-insensitively or numbers), mapped to OpenSSL names for Node, and back to the IANA id
 * for fabio's `Forwarded: tlscipher=0x%04x`.
 */

/** [IANA id, Go / IANA name, OpenSSL name] */
const SUITES: readonly (readonly [number, string, string])[] = [
  [0x0005, 'TLS_RSA_WITH_RC4_128_SHA', 'RC4-SHA'],
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'DES-CBC3-SHA'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA'],
  [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA', 'AES256-SHA'],
  [0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256', 'AES128-SHA256'],
  [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'AES128-GCM-SHA256'],
  [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'AES256-GCM-SHA384'],
  [0xc007, 'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA', 'ECDHE-ECDSA-RC4-SHA'],
  [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'ECDHE-ECDSA-AES128-SHA'],
  [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'ECDHE-ECDSA-AES256-SHA'],
  [0xc011, 'TLS_ECDHE_RSA_WITH_RC4_128_SHA', 'ECDHE-RSA-RC4-SHA'],
  [0xc012, 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA', 'ECDHE-RSA-DES-CBC3-SHA'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA'],
  [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'ECDHE-RSA-AES256-SHA'],
  [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDHE-ECDSA-AES128-SHA256'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE-RSA-AES128-SHA256'],
  [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
  [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
  [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
  [0x1301, 'TLS_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256'],
  [0x1302, 'TLS_AES_256_GCM_SHA384', 'TLS_AES_256_GCM_SHA384'],
  [0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_CHACHA20_POLY1305_SHA256'],
];

const byId = new Map<number, string>();
const byName = new Map<string, number>();
const idByOpenSSL = new Map<string, number>();
for (const [id, go, ossl] of SUITES) {
  byId.set(id, ossl);
  byName.set(go, id);
  idByOpenSSL.set(ossl, id);
}
// Go's pre-1.14 alias names without the hash suffix.
byName.set('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305', 0xcca8);
byName.set('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305', 0xcca9);

/** TLS 1.3 suites are always on in Go (not configurable), so they stay on here too. */
const TLS13 = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

/** Parses one `tlsciphers` entry (Go name, case-insensitive; `0xc02b`; `49195`) to its id. */
export function cipherId(entry: string): number | undefined {
  const s = entry.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return Number.parseInt(s.slice(2), 16);
  if (/^[0-9]+$/.test(s)) return Number(s);
  return byName.get(s.toUpperCase());
}

/**
 * The OpenSSL cipher string for a `tlsciphers` list ('' = Node's defaults). Throws on an entry that
 * is neither a known name nor a number of a suite OpenSSL can do.
 */
export function opensslCiphers(entries: readonly string[]): string {
  const names: string[] = [];
  for (const e of entries) {
    if (e.trim() === '') continue;
    const id = cipherId(e);
    const name = id === undefined ? undefined : byId.get(id);
    if (!name) throw new Error(`invalid or unsupported cipher suite "${e.trim()}"`);
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) return '';
  if (!names.some((n) => n.startsWith('TLS_'))) names.unshift(TLS13);
  return names.join(':');
}

const VERSIONS: Readonly<Record<string, string>> = {
  SSLv3: 'ssl30',
  TLSv1: 'tls10',
  'TLSv1.1': 'tls11',
  'TLSv1.2': 'tls12',
  'TLSv1.3': 'tls13',
};

/** fabio's `tlsver=` value: tls10..tls13 (Node's protocol name when unknown). */
export function tlsVersionName(protocol: string | null | undefined): string {
  if (!protocol) return '';
  return VERSIONS[protocol] ?? protocol;
}

/** The IANA id of a negotiated suite from Node's getCipher() (standardName or OpenSSL name). */
export function cipherIdOf(c: { name?: string; standardName?: string } | undefined): number | undefined {
  if (!c) return undefined;
  return (c.standardName && byName.get(c.standardName)) || (c.name ? idByOpenSSL.get(c.name) : undefined);
}

/**
 * `tlsver` and `tlscipher` for fabio's Forwarded header, e.g. `{tlsver:'tls13', tlscipher:'0x1301'}`.
 * tlscipher is '' when the suite is not in the table.
 */
export function forwardedTls(socket: Pick<TLSSocket, 'getProtocol' | 'getCipher'>): {
  tlsver: string;
  tlscipher: string;
} {
  const id = cipherIdOf(socket.getCipher());
  return {
    tlsver: tlsVersionName(socket.getProtocol()),
    tlscipher: id === undefined ? '' : `0x${id.toString(16).padStart(4, '0')}`,
  };
}
