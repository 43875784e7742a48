import type { Logger } from '../../log/logger.ts';
import { serviceRouteCommands } from '../../routes/index.ts';
import type { ConsulClient } from './client.ts';
import {
  type HealthCheck,
  type HealthFilterOptions,
  type HealthyInstance,
  healthyServices,
  instanceKey,
} from './health-filter.ts';

/**
 * Turns health state into service route text. Unlike fabio, which re-reads the catalog of every
 * routed service on every health change anywhere (fabio issues #627, #750, #865), the catalog rows
 * of a service are cached and re-read only when its healthy instance set or their tags changed.
 * When instances only went away (the new healthy set is a subset of the last one, same tags), the
 * lines are rebuilt from the cached rows without a read: removing a target needs no new data, so a
 * flap (down, up) costs one catalog read. Services that lost every healthy instance are dropped from
 * the cache (and read again when they come back). reset() forgets everything (index reset).
 */

export interface CatalogRow {
  readonly Node: string;
  readonly Address: string;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceAddress: string;
  readonly ServicePort: number;
  readonly ServiceTags: readonly string[] | null;
}

export interface TagWarning {
  readonly service: string;
  readonly tag: string;
  readonly message: string;
}

interface Cached {
  readonly signature: string;
  /** Healthy instance key → its tags joined, as of the last translation. */
  readonly members: ReadonlyMap<string, string>;
  /** Every catalog row of the service as last read (healthy or not). */
  readonly rows: readonly CatalogRow[];
  readonly lines: readonly string[];
  readonly warnings: readonly TagWarning[];
}

export interface ServiceRoutesOptions extends HealthFilterOptions {
  /** Datacenter of the agent ($DC in tags). */
  readonly dc: string;
  /** Concurrent catalog reads (registry.consul.serviceMonitors, <= 0 → 1). */
  readonly monitors: number;
}

export interface ServiceRoutesResult {
  readonly changed: boolean;
  readonly text: string;
  readonly warnings: readonly TagWarning[];
  /** Number of healthy tagged services. */
  readonly services: number;
}

/** Sorts route lines in reverse byte order, as fabio does (sort.Reverse(sort.StringSlice)). */
export function sortDescending(lines: string[]): string[] {
  return lines.sort(cmpDesc);
}

export class ServiceRoutes {
  readonly #client: ConsulClient;
  readonly #opts: ServiceRoutesOptions;
  readonly #log: Logger;
  #cache = new Map<string, Cached>();
  #text = '';
  #warnings: readonly TagWarning[] = [];
  /** Route lines of every cached service, in descending order, maintained incrementally. */
  #sorted: string[] = [];
  /** The published text may be stale: the next round re-sorts and publishes. */
  #dirty = true;

  constructor(client: ConsulClient, opts: ServiceRoutesOptions, log: Logger) {
    this.#client = client;
    this.#opts = opts;
    this.#log = log;
  }

  /** Forget the cache: the next update re-reads every healthy tagged service. */
  reset(): void {
    this.#cache = new Map();
    this.#dirty = true;
  }

  /**
   * Applies one health-state body; throws when a catalog read fails (the caller retries). With
   * acceptEmpty=false a body without any healthy tagged service is refused (throws) while routes
   * exist, and the cache is left untouched.
   */
  async update(checks: readonly HealthCheck[], signal?: AbortSignal, acceptEmpty = true): Promise<ServiceRoutesResult> {
    const healthy = healthyServices(checks, this.#opts);
    if (healthy.size === 0 && this.#cache.size > 0 && !acceptEmpty) {
      throw new Error('empty health state without a known leader or filtered by ACLs; keeping the last routes');
    }
    // Lines that left and joined the sorted list this round.
    const gone: (readonly string[])[] = [];
    const came: (readonly string[])[] = [];
    const replace = (name: string, next: Cached | undefined) => {
      const prev = this.#cache.get(name);
      if (prev) gone.push(prev.lines);
      if (next) {
        this.#cache.set(name, next);
        came.push(next.lines);
      } else this.#cache.delete(name);
    };
    for (const name of [...this.#cache.keys()]) if (!healthy.has(name)) replace(name, undefined);
    const stale: string[] = [];
    for (const [name, h] of healthy) {
      const c = this.#cache.get(name);
      if (c?.signature === h.signature) continue;
      if (c && onlyRemovals(h.instances, c.members))
        replace(name, this.#translate(name, c.rows, h.instances, h.signature, false));
      else stale.push(name);
    }
    let failed: unknown;
    if (stale.length > 0) {
      let next = 0;
      const worker = async () => {
        while (next < stale.length && failed === undefined) {
          const name = stale[next++] as string;
          const h = healthy.get(name);
          if (!h) continue;
          try {
            replace(name, await this.#read(name, h.instances, h.signature, signal));
          } catch (err) {
            failed ??= err;
          }
        }
      };
      const n = Math.min(stale.length, Math.max(1, this.#opts.monitors));
      await Promise.all(Array.from({ length: n }, worker));
    }
    const changed = this.#dirty || gone.length > 0 || came.length > 0;
    if (this.#dirty || gone.length + came.length > 64) {
      // Many changes (first read, resync): one sort beats many splices.
      const all: string[] = [];
      for (const c of this.#cache.values()) for (const l of c.lines) all.push(l);
      this.#sorted = sortDescending(all);
    } else {
      for (const ls of gone) for (const l of ls) removeSorted(this.#sorted, l);
      for (const ls of came) for (const l of ls) insertSorted(this.#sorted, l);
    }
    if (failed !== undefined) {
      // Part of the round is applied above; the retry publishes the text.
      this.#dirty = true;
      throw failed;
    }
    this.#dirty = false;
    if (changed) {
      const warnings: TagWarning[] = [];
      for (const c of this.#cache.values()) for (const w of c.warnings) warnings.push(w);
      this.#text = this.#sorted.join('\n');
      this.#warnings = warnings;
    }
    return { changed, text: this.#text, warnings: this.#warnings, services: this.#cache.size };
  }

  async #read(
    name: string,
    instances: readonly HealthyInstance[],
    signature: string,
    signal?: AbortSignal,
  ): Promise<Cached> {
    const res = await this.#client.get(`/v1/catalog/service/${encodeURIComponent(name)}`, { signal });
    const rows = JSON.parse(res.body) as CatalogRow[] | null;
    return this.#translate(name, Array.isArray(rows) ? rows : [], instances, signature, true);
  }

  #translate(
    name: string,
    rows: readonly CatalogRow[],
    instances: readonly HealthyInstance[],
    signature: string,
    logWarnings: boolean,
  ): Cached {
    const members = new Map<string, string>();
    for (const i of instances) members.set(instanceKey(i.node, i.id), i.tags.join('\u0001'));
    const lines: string[] = [];
    const warnings: TagWarning[] = [];
    for (const row of rows) {
      if (!row || typeof row !== 'object') continue;
      if (!members.has(instanceKey(String(row.Node), String(row.ServiceID)))) continue;
      const out = serviceRouteCommands({
        service: String(row.ServiceName ?? name),
        addr: row.ServiceAddress || row.Address,
        port: Number(row.ServicePort) || 0,
        tags: (row.ServiceTags ?? []).map(String),
        tagPrefix: this.#opts.tagPrefix,
        env: { DC: this.#opts.dc },
      });
      for (const l of out.lines) lines.push(l);
      for (const w of out.warnings) {
        warnings.push({ service: name, tag: w.tag, message: w.message });
        if (logWarnings)
          this.#log.warn(`consul: Skipping tag ${JSON.stringify(w.tag)} of service "${name}": ${w.message}`);
      }
    }
    return { signature, members, rows, lines, warnings };
  }
}

const cmpDesc = (a: string, b: string): number => (a < b ? 1 : a > b ? -1 : 0);

/** First index whose line sorts at or after `l` in descending order. */
function lowerBound(arr: readonly string[], l: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpDesc(arr[mid] as string, l) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(arr: string[], l: string): void {
  arr.splice(lowerBound(arr, l), 0, l);
}

function removeSorted(arr: string[], l: string): void {
  const i = lowerBound(arr, l);
  if (arr[i] === l) arr.splice(i, 1);
}

/** True when every healthy instance was already healthy with the same tags (instances only left). */
function onlyRemovals(now: readonly HealthyInstance[], before: ReadonlyMap<string, string>): boolean {
  if (now.length > before.size) return false;
  for (const i of now) if (before.get(instanceKey(i.node, i.id)) !== i.tags.join('\u0001')) return false;
  return true;
}
