import { ConfigError } from './errors.ts';
import { goMapString, parseDuration } from './go-values.ts';
import { parseKVList } from './kv-list.ts';
import type { AuthSchemeSpec, CertSourceSpec } from './types.ts';

/**
 * proxy.cs and proxy.auth values → specs, with fabio's messages. The maps in `missing ... in`
 * messages are printed the way Go prints a map[string]string (`map[cert:x type:file]`).
 */

const CS_TYPES: readonly string[] = ['file', 'path', 'http', 'consul', 'vault', 'vault-pki'];

const dur = (v: string): number => {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
};

/** Canonical MIME header key, as Go's http.Header.Set stores it (content-type → Content-Type). */
const canonicalHeader = (k: string) =>
  k.replace(/[A-Za-z0-9]+/g, (w) => w[0]?.toUpperCase() + w.slice(1).toLowerCase());

function certSourceFromMap(cfg: ReadonlyMap<string, string>): CertSourceSpec {
  let name = '';
  let type = '';
  let cert = '';
  let key = '';
  let clientCA = '';
  let caUpgCN = '';
  let refresh = 3000;
  let vaultFetchToken = '';
  const header: Record<string, string> = {};
  for (const [k, v] of cfg) {
    switch (k) {
      case 'cs':
        name = v;
        break;
      case 'type':
        type = v;
        break;
      case 'cert':
        cert = v;
        break;
      case 'key':
        key = v;
        break;
      case 'clientca':
        clientCA = v;
        break;
      case 'caupgcn':
        caUpgCN = v;
        break;
      case 'refresh':
        refresh = dur(v);
        break;
      case 'vaultfetchtoken':
        vaultFetchToken = v;
        break;
      case 'hdr': {
        const i = v.indexOf(': ');
        if (i < 0) throw new ConfigError(`invalid header ${v}`);
        header[canonicalHeader(v.slice(0, i))] = v.slice(i + 2);
        break;
      }
    }
  }
  if (name === '') throw new ConfigError(`missing 'cs' in ${goMapString(cfg)}`);
  if (cert === '') throw new ConfigError(`missing 'cert' in ${goMapString(cfg)}`);
  if (type === '') throw new ConfigError(`missing 'type' in ${goMapString(cfg)}`);
  if (!CS_TYPES.includes(type)) throw new ConfigError(`unknown cert source type ${type}`);
  if (type === 'file' || type === 'consul') refresh = 0;
  return Object.freeze({
    name,
    type: type as CertSourceSpec['type'],
    cert,
    key,
    clientCA,
    caUpgCN,
    refresh,
    header: Object.freeze(header),
    vaultFetchToken,
  });
}

/** proxy.cs value → map by name (a later source with the same name replaces the earlier one). */
export function parseCertSources(value: string): Map<string, CertSourceSpec> {
  const out = new Map<string, CertSourceSpec>();
  for (const m of parseKVList(value)) {
    const cs = certSourceFromMap(m);
    out.set(cs.name, cs);
  }
  return out;
}

function authSchemeFromMap(cfg: ReadonlyMap<string, string>): AuthSchemeSpec {
  const name = cfg.get('name') ?? '';
  const type = cfg.get('type') ?? '';
  if (name === '') throw new ConfigError("missing 'name' in auth");
  if (type === '') throw new ConfigError(`missing 'type' in auth '${name}'`);
  if (type !== 'basic') throw new ConfigError(`unknown auth type '${type}'`);
  const file = cfg.get('file') ?? '';
  if (file === '') throw new ConfigError(`missing 'file' in auth '${name}'`);
  const realm = cfg.get('realm') || name;
  let refresh = 0;
  const r = cfg.get('refresh');
  if (r !== undefined && r !== '') {
    refresh = dur(r);
    // fabio: a refresh below one second is raised to one second (0 = off)
    if (refresh > 0 && refresh < 1000) refresh = 1000;
  }
  return Object.freeze({ name, type: 'basic', file, realm, refresh });
}

/** proxy.auth value → map by name. */
export function parseAuthSchemes(value: string): Map<string, AuthSchemeSpec> {
  const out = new Map<string, AuthSchemeSpec>();
  for (const m of parseKVList(value)) {
    const a = authSchemeFromMap(m);
    out.set(a.name, a);
  }
  return out;
}
