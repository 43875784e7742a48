import type { Logger } from '../../log/logger.ts';
import type { TextEdit } from '../../routes/index.ts';
import type { ConsulClient } from './client.ts';
import {
  type HealthCheck,
  type HealthFilterOptions,
  type HealthyInstance,
  type HealthyService,
  healthyServices,
  instanceKey,
} from './health-filter.ts';
import { type CatalogRow, RouteLineSet, type TagWarning, translateRows } from './route-lines.ts';

export { type CatalogRow, sortDescending, type TagWarning } from './route-lines.ts';

/**
 * Turns health state into service route text. Unlike fabio, which re-reads the catalog of every
 * routed service on every health change anywhere (fabio issues #627, #750, #865), the catalog rows
 * of a service are cached and re-read only when its healthy instance set or their tags changed.
 * When instances only went away (the new healthy set is a subset of the last one, same tags), the
 * lines are rebuilt from the cached rows without a read: removing a target needs no new data, so a
 * flap (down, up) costs one catalog read. Services that lost every healthy instance are dropped from
 * the cache (and read again when they come back). reset() forgets everything (index reset).
 */

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
  /** How `text` was made from the text of the update before (see RouteLineSet.edit). */
  readonly edit?: TextEdit | undefined;
  readonly warnings: readonly TagWarning[];
  /** Number of healthy tagged services. */
  readonly services: number;
}

export class ServiceRoutes {
  readonly #client: ConsulClient;
  readonly #opts: ServiceRoutesOptions;
  readonly #log: Logger;
  #cache = new Map<string, Cached>();
  /** Route lines of every cached service, in fabio's order, maintained incrementally. */
  readonly #lines = new RouteLineSet();
  /** The published text may be stale: the next round publishes. */
  #dirty = true;

  constructor(client: ConsulClient, opts: ServiceRoutesOptions, log: Logger) {
    this.#client = client;
    this.#opts = opts;
    this.#log = log;
  }

  /** Forget the cache: the next update re-reads every healthy tagged service. */
  reset(): void {
    this.#cache = new Map();
    this.#lines.clear();
    this.#dirty = true;
  }

  /**
   * Applies one health-state body; throws when a catalog read fails (the caller retries). With
   * acceptEmpty=false a body without any healthy tagged service is refused (throws) while routes
   * exist, and the cache is left untouched.
   */
  async update(
    checks: readonly HealthCheck[] | ReadonlyMap<string, HealthyService>,
    signal?: AbortSignal,
    acceptEmpty = true,
  ): Promise<ServiceRoutesResult> {
    // A map is the filter's result already (HealthState reads the body incrementally).
    const healthy = checks instanceof Map ? checks : healthyServices(checks as readonly HealthCheck[], this.#opts);
    if (healthy.size === 0 && this.#cache.size > 0 && !acceptEmpty) {
      throw new Error('empty health state without a known leader or filtered by ACLs; keeping the last routes');
    }
    let changed = this.#dirty;
    const replace = (name: string, next: Cached | undefined) => {
      if (next) this.#cache.set(name, next);
      else this.#cache.delete(name);
      if (this.#lines.set(name, next)) changed = true;
    };
    for (const name of [...this.#cache.keys()]) if (!healthy.has(name)) replace(name, undefined);
    const stale: string[] = [];
    for (const [name, h] of healthy) {
      const c = this.#cache.get(name);
      if (c?.signature === h.signature) continue;
      if (c && onlyRemovals(h.instances, c.members))
        replace(name, this.#translate(name, c.rows, h.instances, h.signature));
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
    if (failed !== undefined) {
      // Part of the round is applied above; the retry publishes the text.
      this.#dirty = true;
      throw failed;
    }
    this.#dirty = false;
    const text = this.#lines.text();
    return { changed, text, edit: this.#lines.edit(), warnings: this.#lines.warnings(), services: this.#cache.size };
  }

  async #read(
    name: string,
    instances: readonly HealthyInstance[],
    signature: string,
    signal?: AbortSignal,
  ): Promise<Cached> {
    const res = await this.#client.get(`/v1/catalog/service/${encodeURIComponent(name)}`, { signal });
    const rows = JSON.parse(res.body) as CatalogRow[] | null;
    return this.#translate(name, Array.isArray(rows) ? rows : [], instances, signature);
  }

  #translate(
    name: string,
    rows: readonly CatalogRow[],
    instances: readonly HealthyInstance[],
    signature: string,
  ): Cached {
    const members = new Map<string, string>();
    for (const i of instances) members.set(instanceKey(i.node, i.id), i.tags.join('\u0001'));
    const out = translateRows(name, rows, members, instanceKey, this.#opts);
    return { signature, members, rows, lines: out.lines, warnings: out.warnings };
  }
}

/** True when every healthy instance was already healthy with the same tags (instances only left). */
function onlyRemovals(now: readonly HealthyInstance[], before: ReadonlyMap<string, string>): boolean {
  if (now.length > before.size) return false;
  for (const i of now) if (before.get(instanceKey(i.node, i.id)) !== i.tags.join('\u0001')) return false;
  return true;
}
