import type { CertSourceSpec } from '../../config/types.ts';
import { type PairedFiles, pairPemFiles } from './pem-pairs.ts';
import { type VaultClient, VaultError } from './vault-client.ts';

/**
 * `type=vault`: `cert` is a KV path; every secret directly below it holds one certificate in the
 * fields `cert` and `key` (PEM). The secret `<name>` becomes the files `<name>-cert.pem` and
 * `<name>-key.pem`, so pairing, ordering (first = default) and keeping the last good pair follow
 * the other sources (pem-pairs.ts, create-store.ts).
 *
 * KV version: asked from Vault (`GET sys/internal/ui/mounts/<path>`, which any token may call for
 * paths it can reach: mount path and `options.version`). When that answer is not available
 * (older Vault, policy), a path with a `/data/` segment is read as KV v2 and anything else as v1.
 * Version 2 lists `<mount>/metadata/<rest>` and reads `<mount>/data/<rest>/<name>` (fields under
 * `data.data`); a `data/` written after the mount in `cert=` is accepted and not doubled.
 */

interface KvLayout {
  readonly list: string;
  readonly read: (name: string) => string;
  readonly v2: boolean;
}

const trim = (p: string) => p.replace(/^\/+|\/+$/g, '');

/** Where to list and read, from the mount information (or the `/data/` hint). */
export function kvLayout(path: string, mount: { path: string; version: string } | undefined): KvLayout {
  const p = trim(path);
  let m: string | undefined;
  let v2 = false;
  if (mount !== undefined && mount.path !== '' && `${p}/`.startsWith(mount.path)) {
    m = trim(mount.path);
    v2 = mount.version === '2';
  } else {
    const i = p.indexOf('/data/');
    if (i > 0 || p.endsWith('/data')) {
      m = p.slice(0, i > 0 ? i : p.length - 5);
      v2 = true;
    }
  }
  if (!v2 || m === undefined) return { v2: false, list: p, read: (n) => `${p}/${n}` };
  let rest = trim(p.slice(m.length));
  if (rest === 'data') rest = '';
  else if (rest.startsWith('data/')) rest = rest.slice(5);
  const under = rest === '' ? '' : `/${rest}`;
  return { v2: true, list: `${m}/metadata${under}`, read: (n) => `${m}/data${under}/${n}` };
}

async function mountOf(vault: VaultClient, path: string): Promise<{ path: string; version: string } | undefined> {
  try {
    const r = await vault.call('GET', `sys/internal/ui/mounts/${trim(path)}`);
    const d = (r.data ?? {}) as { path?: unknown; options?: { version?: unknown } | null };
    if (typeof d.path !== 'string') return undefined;
    return { path: d.path, version: String(d.options?.version ?? '1') };
  } catch (e) {
    // not there or not allowed: fall back on the path's shape
    if (e instanceof VaultError && (e.status === 403 || e.status === 404 || e.status === 400)) return undefined;
    throw e;
  }
}

/** Reads every certificate below the source's path. */
export async function loadVaultSource(
  spec: CertSourceSpec,
  vault: VaultClient,
): Promise<PairedFiles & { files: Map<string, string> }> {
  const layout = kvLayout(spec.cert, await mountOf(vault, spec.cert));
  let names: string[] = [];
  try {
    // `GET ?list=true` is Vault's documented equivalent of the LIST verb (which proxies may refuse)
    const r = await vault.call('GET', `${layout.list}?list=true`);
    const keys = ((r.data ?? {}) as { keys?: unknown }).keys;
    if (Array.isArray(keys)) names = keys.filter((k): k is string => typeof k === 'string');
  } catch (e) {
    // Vault answers 404 for an empty (or missing) folder: no certificates, not an outage
    if (!(e instanceof VaultError && e.status === 404)) throw e;
  }
  // sub-folders end in '/'; a name with another '/' or '..' would leave the path
  names = names.filter((n) => n !== '' && !n.includes('/') && n !== '.' && n !== '..').sort();
  const files = new Map<string, string>();
  await Promise.all(
    names.map(async (name) => {
      const r = await vault.call('GET', layout.read(encodeURIComponent(name)));
      let d = (r.data ?? {}) as Record<string, unknown>;
      if (layout.v2) d = (d.data ?? {}) as Record<string, unknown>;
      // a secret without both fields is left for pairPemFiles to report
      if (typeof d.cert === 'string') files.set(`${name}-cert.pem`, d.cert);
      if (typeof d.key === 'string') files.set(`${name}-key.pem`, d.key);
      if (typeof d.cert !== 'string') files.set(`${name}-cert.pem`, '');
    }),
  );
  return { ...pairPemFiles(files), files };
}
