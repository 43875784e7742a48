import { parseDuration } from './durations.ts';
import {
  CHECK_STATUSES,
  type CheckDef,
  type CheckStatus,
  plainCheck,
  type ServiceDef,
  type TaggedAddress,
} from './model.ts';

/**
 * Decodes /v1/agent/service/register and /v1/agent/check/register bodies. Consul accepts
 * CamelCase and snake_case field names (and Go's JSON decoder ignores case), so top-level field
 * names are matched lower-cased without underscores; map values (Meta, Header) keep their keys.
 */

export class BadRequest extends Error {}

type Fields = Map<string, unknown>;

const NAMES = [
  'ID',
  'Name',
  'Tags',
  'Address',
  'Port',
  'Meta',
  'EnableTagOverride',
  'Weights',
  'Passing',
  'Warning',
  'CheckID',
  'Notes',
  'Status',
  'TTL',
  'HTTP',
  'Method',
  'Header',
  'Body',
  'TLSSkipVerify',
  'TCP',
  'Interval',
  'Timeout',
  'DeregisterCriticalServiceAfter',
  'ServiceID',
];
const DISPLAY = new Map(NAMES.map((n) => [n.toLowerCase(), n]));
/** Consul's field name for error messages. */
const shown = (key: string) => DISPLAY.get(key) ?? key;

function fields(v: unknown, what: string): Fields {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new BadRequest(`Request decode failed: ${what} must be an object`);
  const m = new Map<string, unknown>();
  for (const [k, x] of Object.entries(v)) m.set(k.toLowerCase().replaceAll('_', ''), x);
  return m;
}

function str(f: Fields, key: string, def = ''): string {
  const v = f.get(key);
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new BadRequest(`Request decode failed: ${shown(key)} must be a string`);
  return v;
}

function num(f: Fields, key: string, def = 0): number {
  const v = f.get(key);
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new BadRequest(`Request decode failed: ${shown(key)} must be an integer`);
  return v;
}

function bool(f: Fields, key: string): boolean {
  const v = f.get(key);
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new BadRequest(`Request decode failed: ${shown(key)} must be a boolean`);
  return v;
}

function strings(f: Fields, key: string): string[] {
  const v = f.get(key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new BadRequest(`Request decode failed: ${shown(key)} must be an array of strings`);
  return v as string[];
}

function stringMap(f: Fields, key: string): Record<string, string> {
  const v = f.get(key);
  if (v === undefined || v === null) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of fields(v, key))
    if (typeof x !== 'string') throw new BadRequest(`Request decode failed: ${key}.${k} must be a string`);
  for (const [k, x] of Object.entries(v as object)) out[k] = x as string;
  return out;
}

function duration(f: Fields, key: string): number {
  const v = f.get(key);
  if (v === undefined || v === null || v === '') return 0;
  // Consul also accepts nanoseconds as a JSON number.
  if (typeof v === 'number') return v / 1e6;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined)
    throw new BadRequest(`Request decode failed: ${shown(key)}: time: invalid duration "${String(v)}"`);
  return ms;
}

export function decodeService(body: unknown): { service: ServiceDef; checks: CheckDef[] } {
  const f = fields(body, 'body');
  const name = str(f, 'name');
  if (name === '') throw new BadRequest('Invalid Service: Missing service name');
  const id = str(f, 'id') || name;
  const w = f.get('weights');
  const wf = w === undefined || w === null ? undefined : fields(w, 'Weights');
  const weights = { Passing: wf ? num(wf, 'passing', 1) : 1, Warning: wf ? num(wf, 'warning', 1) : 1 };
  let taggedAddresses: Record<string, TaggedAddress> | undefined;
  const ta = f.get('taggedaddresses');
  if (ta !== undefined && ta !== null) {
    taggedAddresses = {};
    for (const [k, v] of Object.entries(ta as object)) {
      const af = fields(v, `TaggedAddresses.${k}`);
      taggedAddresses[k] = { Address: str(af, 'address'), Port: num(af, 'port') };
    }
  }
  const port = num(f, 'port');
  if (port < 0 || port > 65535) throw new BadRequest('Invalid Service: port out of range');
  const service: ServiceDef = {
    id,
    name,
    tags: strings(f, 'tags'),
    address: str(f, 'address'),
    port,
    meta: stringMap(f, 'meta'),
    enableTagOverride: bool(f, 'enabletagoverride'),
    weights,
    taggedAddresses,
  };
  const raw: unknown[] = [];
  const one = f.get('check');
  if (one !== undefined && one !== null) raw.push(one);
  const many = f.get('checks');
  if (Array.isArray(many)) raw.push(...many);
  else if (many !== undefined && many !== null) throw new BadRequest('Request decode failed: Checks must be an array');
  const checks: CheckDef[] = [];
  raw.forEach((c, i) => {
    const cf = fields(c, 'Check');
    if (cf.size === 0) return; // an empty Check object is ignored, as by Consul
    const fallbackId = raw.length > 1 ? `service:${id}:${i + 1}` : `service:${id}`;
    checks.push(decodeCheckFields(cf, id, fallbackId, `Service '${name}' check`));
  });
  return { service, checks };
}

/** A check on its own (/v1/agent/check/register): ID or CheckID, Name required. */
export function decodeCheck(body: unknown): CheckDef {
  const f = fields(body, 'body');
  const name = str(f, 'name');
  if (name === '') throw new BadRequest('Missing check name');
  const id = str(f, 'checkid') || str(f, 'id') || name;
  return decodeCheckFields(f, str(f, 'serviceid'), id, name);
}

function decodeCheckFields(f: Fields, serviceId: string, fallbackId: string, fallbackName: string): CheckDef {
  const statusText = str(f, 'status');
  if (statusText !== '' && !CHECK_STATUSES.includes(statusText as CheckStatus))
    throw new BadRequest(`Invalid check status: "${statusText}"`);
  const http = str(f, 'http');
  const tcp = str(f, 'tcp');
  const ttlMs = duration(f, 'ttl');
  const intervalMs = duration(f, 'interval');
  const header: Record<string, string[]> = {};
  const h = f.get('header');
  if (h !== undefined && h !== null) {
    fields(h, 'Header');
    for (const [k, v] of Object.entries(h as object)) header[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  }
  let type: CheckDef['type'] = '';
  if (ttlMs > 0) type = 'ttl';
  else if (http) type = 'http';
  else if (tcp) type = 'tcp';
  else if (f.has('args') || f.has('script')) type = 'script';
  else if (f.has('grpc')) type = 'grpc';
  else if (f.has('h2ping')) type = 'h2ping';
  else if (f.has('aliasservice') || f.has('aliasnode')) type = 'alias';
  else throw new BadRequest('Invalid check: one of TTL, HTTP, TCP, Args, GRPC, H2PING or AliasService is required');
  if ((type === 'http' || type === 'tcp') && intervalMs <= 0)
    throw new BadRequest('Invalid check: Interval must be > 0 for Script, HTTP, H2PING, or TCP checks');
  return {
    ...plainCheck(str(f, 'checkid') || fallbackId, str(f, 'name') || fallbackName, str(f, 'notes'), serviceId),
    status: statusText === '' ? undefined : (statusText as CheckStatus),
    type,
    http,
    method: str(f, 'method') || 'GET',
    header,
    body: str(f, 'body'),
    tlsSkipVerify: bool(f, 'tlsskipverify'),
    tcp,
    intervalMs,
    timeoutMs: duration(f, 'timeout') || 10_000,
    ttlMs,
    deregisterAfterMs: duration(f, 'deregistercriticalserviceafter'),
  };
}
