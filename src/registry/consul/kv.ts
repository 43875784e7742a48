import type { ManualStore } from '../types.ts';
import type { ConsulClient, ConsulResponse } from './client.ts';

/**
 * Consul KV for manual overrides (registry.consul.kvpath) and the no-route HTML
 * (registry.consul.noroutehtmlpath): body parsing, fabio's text joining and the ManualStore the UI
 * edits through.
 *
 * Prefix quirk (fabio-reference (P)10): fabio reads the kvpath as a raw key prefix, so
 * `fabio/config-old` is applied next to `fabio/config`. We take the key itself and the keys below
 * it (`fabio/config/...`) only; siblings are reported by `ignoredSiblings` so the backend can log
 * them once. See docs/compat-registry.md.
 */

export interface KvEntry {
  readonly Key: string;
  readonly Value: string | null;
  readonly ModifyIndex: number;
}

/** KV path without its leading '/' (fabio strips it before calling the API). */
export const kvKey = (path: string): string => path.replace(/^\/+/, '');

/** Parses a `?recurse` read; 404 (no key under the prefix) is an empty list. */
export function kvEntries(res: ConsulResponse): KvEntry[] {
  if (res.status === 404) return [];
  const body = JSON.parse(res.body) as unknown;
  if (body === null) return [];
  if (!Array.isArray(body)) throw new Error('consul: KV response is not a list');
  // Untrusted input: an entry of the wrong shape is left out, the others still count.
  return body.filter(
    (e): e is KvEntry =>
      e !== null &&
      typeof e === 'object' &&
      typeof e.Key === 'string' &&
      (e.Value === null || e.Value === undefined || typeof e.Value === 'string'),
  );
}

export const decodeValue = (v: string | null | undefined): string =>
  v ? Buffer.from(v, 'base64').toString('utf8') : '';

/** True when `key` is the prefix key itself or lies below it. */
export function underPrefix(key: string, prefix: string): boolean {
  if (key === prefix) return true;
  return key.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** Keys fabio would apply but we do not (siblings such as `fabio/config-old`). */
export function ignoredSiblings(entries: readonly KvEntry[], prefix: string): string[] {
  return entries.filter((e) => e.Key.startsWith(prefix) && !underPrefix(e.Key, prefix)).map((e) => e.Key);
}

function sortedUnder(entries: readonly KvEntry[], prefix: string): KvEntry[] {
  return entries
    .filter((e) => typeof e.Key === 'string' && underPrefix(e.Key, prefix))
    .sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0));
}

/** Manual override text: `# --- <key>` then the trimmed value, entries joined by a blank line. */
export function manualText(entries: readonly KvEntry[], prefix: string): string {
  return sortedUnder(entries, prefix)
    .map((e) => `# --- ${e.Key}\n${decodeValue(e.Value).trim()}`)
    .join('\n\n');
}

/** No-route HTML: the trimmed values joined by a blank line. */
export function noRouteHtml(entries: readonly KvEntry[], prefix: string): string {
  return sortedUnder(entries, prefix)
    .map((e) => decodeValue(e.Value).trim())
    .join('\n\n');
}

/** The UI's view of the manual overrides, with Consul's check-and-set. */
export class ConsulManualStore implements ManualStore {
  readonly #client: ConsulClient;
  readonly #prefix: string;
  constructor(client: ConsulClient, kvpath: string) {
    this.#client = client;
    this.#prefix = kvKey(kvpath);
  }

  async paths(): Promise<string[]> {
    const res = await this.#client.get(`/v1/kv/${this.#prefix}`, { query: { keys: true } }, [404]);
    if (res.status === 404) return [];
    const keys = JSON.parse(res.body) as string[] | null;
    return (keys ?? [])
      .filter((k) => underPrefix(k, this.#prefix))
      .map((k) => k.slice(this.#prefix.length))
      .sort();
  }

  async get(sub: string): Promise<{ value: string; version: string }> {
    const res = await this.#client.get(`/v1/kv/${this.#prefix}${sub}`, {}, [404]);
    if (res.status === 404) return { value: '', version: '0' };
    const e = (JSON.parse(res.body) as KvEntry[])[0];
    return e ? { value: decodeValue(e.Value), version: String(e.ModifyIndex) } : { value: '', version: '0' };
  }

  async put(sub: string, value: string, version: string): Promise<boolean> {
    const cas = /^\d+$/.test(version) ? version : '0';
    const res = await this.#client.put(`/v1/kv/${this.#prefix}${sub}`, value, { cas });
    return res.body.trim() === 'true';
  }
}
