import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Test helper: a throw-away CA and leaf certificates made with the openssl CLI (EC P-256, fast), in a
 * fresh temp directory. Each leaf is signed by the CA, valid for server and client auth.
 *
 *   const { ca, certs, cleanup } = await makeCerts([['a.com', '*.a.com'], ['127.0.0.1']]);
 *   t.after(cleanup);
 *   tls.createServer({ cert: certs[0].pem, key: certs[0].keyPem }) ... tls.connect({ ca: ca.pem, servername: 'a.com' })
 *
 * A plain `string[]` entry means CN = names[0] and DNS/IP subjectAltNames = all names; the object form
 * gives full control (e.g. a CN-only certificate with `san: []`).
 */

const run = promisify(execFile);

export type CertRequest = readonly string[] | { readonly cn?: string; readonly san?: readonly string[] };

export interface CertFiles {
  /** All names of the certificate (CN first when present, then SANs). */
  readonly names: readonly string[];
  readonly cn: string | undefined;
  readonly san: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  readonly pem: string;
  readonly keyPem: string;
}

export interface CertSet {
  readonly dir: string;
  readonly ca: { readonly certFile: string; readonly keyFile: string; readonly pem: string; readonly keyPem: string };
  readonly certs: CertFiles[];
  /** Removes the temp directory. */
  cleanup(): Promise<void>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function normalise(r: CertRequest): { cn: string | undefined; san: string[] } {
  if (Array.isArray(r)) return { cn: r[0], san: [...r] };
  const o = r as { cn?: string; san?: readonly string[] };
  return { cn: o.cn, san: [...(o.san ?? [])] };
}

/** Issues one leaf signed by the CA in `dir` (files `<base>-cert.pem` and `<base>-key.pem`). */
export async function issueCert(
  dir: string,
  base: string,
  req: CertRequest,
  caFiles?: { certFile: string; keyFile: string },
): Promise<CertFiles> {
  const { cn, san } = normalise(req);
  const ca = caFiles ?? { certFile: join(dir, 'ca-cert.pem'), keyFile: join(dir, 'ca-key.pem') };
  const certFile = join(dir, `${base}-cert.pem`);
  const keyFile = join(dir, `${base}-key.pem`);
  const csr = join(dir, `${base}.csr`);
  const ext = join(dir, `${base}.ext`);
  const subj = cn ? `/CN=${cn}` : '/O=fabio-ts test';
  await run('openssl', ['req', '-new', ...EC, '-keyout', keyFile, '-out', csr, '-subj', subj]);
  const lines = [
    'basicConstraints=CA:FALSE',
    'keyUsage=digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
  ];
  if (san.length > 0) lines.push(`subjectAltName=${san.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}`);
  await writeFile(ext, `${lines.join('\n')}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  await Promise.all([rm(csr), rm(ext)]);
  const [pem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const names = cn && !san.includes(cn) ? [cn, ...san] : san.length > 0 ? san : cn ? [cn] : [];
  return { names, cn, san, certFile, keyFile, pem, keyPem };
}

/** A new CA (CN "fabio-ts test CA <n>") and one leaf per request, in a new temp dir. */
export async function makeCerts(requests: readonly CertRequest[], opts: { caName?: string } = {}): Promise<CertSet> {
  const dir = await mkdtemp(join(tmpdir(), 'fabio-ts-certs-'));
  const caCert = join(dir, 'ca-cert.pem');
  const caKey = join(dir, 'ca-key.pem');
  await run('openssl', [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    `/CN=${opts.caName ?? 'fabio-ts test CA'}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const certs = await Promise.all(requests.map((r, i) => issueCert(dir, `leaf${i}`, r)));
  const [pem, keyPem] = await Promise.all([readFile(caCert, 'utf8'), readFile(caKey, 'utf8')]);
  return {
    dir,
    ca: { certFile: caCert, keyFile: caKey, pem, keyPem },
    certs,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
