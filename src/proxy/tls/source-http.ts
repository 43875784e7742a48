import type { CertSourceSpec } from '../../config/types.ts';
import type { PairedFiles } from './pem-pairs.ts';
import { pairPemFiles } from './pem-pairs.ts';

/**
 * `type=http`: `cert` is the URL of a list file (one file name per line, as `ls -1 *.pem` prints);
 * each file is fetched relative to the list URL. Credentials in the URL's userinfo become a Basic
 * Authorization header (fetch refuses URLs with credentials); `hdr=` adds a header to every request.
 */

const TIMEOUT = 10_000;

function split(url: string): { url: URL; headers: Record<string, string> } {
  const u = new URL(url);
  const headers: Record<string, string> = {};
  if (u.username || u.password) {
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { url: u, headers };
}

/** GET a URL as text; throws on non-2xx, with the status in the message. */
export async function fetchText(url: string, extra: Readonly<Record<string, string>> = {}): Promise<string> {
  const { url: u, headers } = split(url);
  const res = await fetch(u, { headers: { ...extra, ...headers }, signal: AbortSignal.timeout(TIMEOUT) });
  const body = await res.text();
  if (!res.ok) throw new Error(`cert: GET ${u.origin}${u.pathname}: HTTP ${res.status}`);
  return body;
}

export async function loadHttpSource(spec: CertSourceSpec): Promise<PairedFiles & { files: Map<string, string> }> {
  const list = await fetchText(spec.cert, spec.header);
  const names = list
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const base = split(spec.cert);
  const files = new Map<string, string>();
  await Promise.all(
    names.map(async (name) => {
      const u = new URL(name, base.url);
      // Keep the list URL's credentials and query (fabio passes credentials via userinfo or query).
      if (!u.search) u.search = base.url.search;
      const res = await fetch(u, {
        headers: { ...spec.header, ...base.headers },
        signal: AbortSignal.timeout(TIMEOUT),
      });
      const body = await res.text();
      if (!res.ok) throw new Error(`cert: GET ${u.origin}${u.pathname}: HTTP ${res.status}`);
      files.set(name, body);
    }),
  );
  return { ...pairPemFiles(files), files };
}
