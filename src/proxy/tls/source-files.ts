import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { CertSourceSpec } from '../../config/types.ts';
import type { LoadedCert, PairedFiles } from './pem-pairs.ts';
import { makePair, pairPemFiles, pemCertificates } from './pem-pairs.ts';

/** Loaders for the local certificate sources `file` and `path`, and for client CA files/dirs/URLs. */

/** fabio skips files larger than this in `path` sources. */
const MAX_FILE = 1 << 20;

/** Recursively collects `*.pem` files under dir (dot-files and dot-dirs skipped), keyed by relative path. */
async function readPemDir(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      if (!e.name.endsWith('.pem')) continue;
      const st = await stat(p).catch(() => undefined);
      if (!st?.isFile() || st.size > MAX_FILE) continue;
      out.set(relative(dir, p), await readFile(p, 'utf8'));
    }
  };
  await walk(dir);
  return out;
}

/** `type=file`: one certificate from `cert` (combined, or with `key`). */
export async function loadFileSource(spec: CertSourceSpec): Promise<LoadedCert[]> {
  const cert = await readFile(spec.cert, 'utf8');
  const key = spec.key ? await readFile(spec.key, 'utf8') : cert;
  return [makePair(spec.cert, cert, key)];
}

/** `type=path`: every pair under the directory; invalid pairs reported in errors. */
export async function loadPathSource(spec: CertSourceSpec): Promise<PairedFiles & { files: Map<string, string> }> {
  const files = await readPemDir(spec.cert);
  return { ...pairPemFiles(files), files };
}

/** Client CA certificates from a PEM file, a directory of `*.pem` files, or an http(s) URL of a PEM bundle. */
export async function loadClientCA(where: string, headers: Readonly<Record<string, string>> = {}): Promise<string[]> {
  if (where === '') return [];
  let text: string;
  if (/^https?:\/\//i.test(where)) {
    const { fetchText } = await import('./source-http.ts');
    text = await fetchText(where, headers);
  } else if ((await stat(where)).isDirectory()) {
    text = [...(await readPemDir(where)).values()].join('\n');
  } else {
    text = await readFile(where, 'utf8');
  }
  const certs = pemCertificates(text);
  if (certs.length === 0) throw new Error(`cert: no client CA certificates in ${where}`);
  return certs;
}
