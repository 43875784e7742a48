import type { Logger } from '../../log/logger.ts';
import { serviceRouteCommands } from '../../routes/index.ts';
import type { ConsulClient } from './client.ts';
import { type HealthCheck, type HealthFilterOptions, healthyServices, instanceKey } from './health-filter.ts';

/**
 * Turns health state into service route text. Unlike fabio, which re-reads the catalog of every
 * routed service on every health change anywhere (fabio issues #627, #750, #865), the catalog rows
 * of a service are cached and re-read only when its healthy instance set or their tags changed.
 * Services that lost every healthy instance are dropped from the cache (and read again when they
 * come back). reset() forgets everything (after an index reset or an outage).
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
  return lines.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

export class ServiceRoutes {
  readonly #client: ConsulClient;
  readonly #opts: ServiceRoutesOptions;
  readonly #log: Logger;
  #cache = new Map<string, Cached>();
  #text = '';
  #warnings: readonly TagWarning[] = [];
  #first = true;

  constructor(client: ConsulClient, opts: ServiceRoutesOptions, log: Logger) {
    this.#client = client;
    this.#opts = opts;
    this.#log = log;
  }

  /** Forget the cache: the next update re-reads every healthy tagged service. */
  reset(): void {
    this.#cache = new Map();
    this.#first = true;
  }

  /** Applies one health-state body; throws when a catalog read fails (the caller retries). */
  async update(checks: readonly HealthCheck[], signal?: AbortSignal): Promise<ServiceRoutesResult> {
    const healthy = healthyServices(checks, this.#opts);
    // After a failed round the text was never published: publish whatever this round yields.
    let changed = this.#first;
    for (const name of [...this.#cache.keys()]) {
      if (!healthy.has(name)) {
        this.#cache.delete(name);
        changed = true;
      }
    }
    const stale: string[] = [];
    for (const [name, h] of healthy) if (this.#cache.get(name)?.signature !== h.signature) stale.push(name);
    if (stale.length > 0) {
      changed = true;
      let failed: unknown;
      let next = 0;
      const worker = async () => {
        while (next < stale.length && failed === undefined) {
          const name = stale[next++] as string;
          const h = healthy.get(name);
          if (!h) continue;
          try {
            this.#cache.set(name, await this.#read(name, h.instances, h.signature, signal));
          } catch (err) {
            failed ??= err;
          }
        }
      };
      const n = Math.min(stale.length, Math.max(1, this.#opts.monitors));
      await Promise.all(Array.from({ length: n }, worker));
      if (failed !== undefined) throw failed;
    }
    this.#first = false;
    if (changed) {
      const lines: string[] = [];
      const warnings: TagWarning[] = [];
      for (const c of this.#cache.values()) {
        for (const l of c.lines) lines.push(l);
        for (const w of c.warnings) warnings.push(w);
      }
      this.#text = sortDescending(lines).join('\n');
      this.#warnings = warnings;
    }
    return { changed, text: this.#text, warnings: this.#warnings, services: this.#cache.size };
  }

  async #read(name: string, instances: ReadonlySet<string>, signature: string, signal?: AbortSignal): Promise<Cached> {
    const res = await this.#client.get(`/v1/catalog/service/${encodeURIComponent(name)}`, { signal });
    const rows = JSON.parse(res.body) as CatalogRow[] | null;
    const lines: string[] = [];
    const warnings: TagWarning[] = [];
    for (const row of Array.isArray(rows) ? rows : []) {
      if (!instances.has(instanceKey(String(row.Node), String(row.ServiceID)))) continue;
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
        this.#log.warn(`consul: Skipping tag ${JSON.stringify(w.tag)} of service "${name}": ${w.message}`);
      }
    }
    return { signature, lines, warnings };
  }
}
