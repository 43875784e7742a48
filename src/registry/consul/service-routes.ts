import type { Logger } from '../../log/logger.ts';
import type { TextEdit } from '../../routes/index.ts';
import type { ServiceTagWarning as TagWarning } from '../types.ts';
import type { ConsulClient } from './client.ts';
import {
  type HealthCheck,
  type HealthFilterOptions,
  type HealthyInstance,
  type HealthyService,
  healthyServices,
  instanceKey,
  sameStrings,
} from './health-filter.ts';
import { type CatalogRow, RouteLineSet, rowCommands, rowKey, type ServiceLines } from './route-lines.ts';

export { type CatalogRow, sortDescending, type TagWarning } from './route-lines.ts';

/**
 * Turns health state into service route text. Unlike fabio, which re-reads the catalog of every
 * routed service on every health change anywhere (fabio issues #627, #750, #865), the route lines
 * of a service are cached and its catalog re-read only when its healthy instance set or their tags
 * changed. When instances only went away (the new healthy set is a subset of the last one, same
 * tags), the lines of the instances that left are dropped without a read: removing a target needs no
 * new data, so a flap (down, up) costs one catalog read. Services that lost every healthy instance are dropped from
 * the cache (and read again when they come back). reset() forgets everything (index reset).
 */

/**
 * What is kept of a service between rounds: its lines and warnings and, for each of them, which
 * healthy instance's catalog row made it. Not the rows (at 50,000 services × 3 the parsed rows and a
 * map of joined tags per service were ~200 MB of heap): an update where instances only went away
 * drops the lines of the instances that left, which is what translating the cached rows again for
 * the remaining instances gave (translateRows handles each row on its own, in row order).
 */
interface Cached extends ServiceLines {
  readonly signature: string;
  /** The healthy instances of the last translation (the health filter's objects, not copies). */
  readonly instances: readonly HealthyInstance[];
  /**
   * owners[j]: the index in `instances` of the row that made lines[j] (j < lines.length) or
   * warnings[j - lines.length]. Undefined when line j is instance j's and there are no warnings
   * (one line per instance, rows in the health order: the usual case, no list kept).
   */
  readonly owners: readonly number[] | undefined;
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
  /** Every cached service and its route lines, in fabio's order, maintained incrementally. */
  readonly #lines = new RouteLineSet<Cached>();
  /** The published text may be stale: the next round publishes. */
  #dirty = true;

  constructor(client: ConsulClient, opts: ServiceRoutesOptions, _log: Logger) {
    this.#client = client;
    this.#opts = opts;
  }

  /** See RouteLineSet.adopt. */
  adopt(flat: string): void {
    this.#lines.adopt(flat);
  }

  /** Forget the cache: the next update re-reads every healthy tagged service. */
  reset(): void {
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
    changedNames?: ReadonlySet<string>,
  ): Promise<ServiceRoutesResult> {
    // A map is the filter's result already (HealthState reads the body incrementally; it may be a
    // layered map, not a Map).
    const shared = !Array.isArray(checks);
    const healthy = shared
      ? (checks as ReadonlyMap<string, HealthyService>)
      : healthyServices(checks as readonly HealthCheck[], this.#opts);
    if (healthy.size === 0 && this.#lines.size > 0 && !acceptEmpty) {
      throw new Error('empty health state without a known leader or filtered by ACLs; keeping the last routes');
    }
    let changed = this.#dirty;
    const replace = (name: string, next: Cached | undefined) => {
      if (this.#lines.set(name, next)) changed = true;
    };
    // `changedNames` (HealthState.changed): only these can differ from the map of the last update,
    // when that update applied completely (not dirty); 50,000 services are not visited per flap
    const only = changedNames !== undefined && !this.#dirty ? changedNames : undefined;
    const gone = only ?? this.#lines.names();
    for (const name of gone) if (!healthy.has(name) && this.#lines.get(name) !== undefined) replace(name, undefined);
    const stale: string[] = [];
    for (const name of only ?? healthy.keys()) {
      const h = healthy.get(name);
      if (h === undefined) continue;
      const c = this.#lines.get(name);
      if (c !== undefined && c.signature === h.signature) {
        // same instances and tags from a new filter pass that the caller keeps (HealthState's
        // map): hold its objects, not two copies (a pass made here is garbage after the update)
        if (shared && c.instances !== h.instances) replace(name, rebind(c, h.instances));
        continue;
      }
      const remap = c && survivors(h.instances, c.instances);
      if (c && remap) replace(name, shrink(c, h.instances, h.signature, remap));
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
    return { changed, text, edit: this.#lines.edit(), warnings: this.#lines.warnings(), services: this.#lines.size };
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

  /** translateRows for the healthy instances, noting the instance of each line and warning. */
  #translate(
    name: string,
    rows: readonly CatalogRow[],
    instances: readonly HealthyInstance[],
    signature: string,
  ): Cached {
    const at = new Map<string, number>();
    for (let k = 0; k < instances.length; k++) {
      const i = instances[k] as HealthyInstance;
      at.set(instanceKey(i.node, i.id), k);
    }
    const lines: string[] = [];
    const warnings: TagWarning[] = [];
    const lineOwners: number[] = [];
    const warningOwners: number[] = [];
    for (const row of rows) {
      const key = rowKey(row, instanceKey);
      const owner = key === undefined ? undefined : at.get(key);
      if (owner === undefined) continue;
      const [nl, nw] = [lines.length, warnings.length];
      rowCommands(name, row, this.#opts, lines, warnings);
      for (let j = nl; j < lines.length; j++) lineOwners.push(owner);
      for (let j = nw; j < warnings.length; j++) warningOwners.push(owner);
    }
    return cached(signature, instances, lines, warnings, lineOwners, warningOwners);
  }
}

const NO_WARNINGS: readonly TagWarning[] = Object.freeze([]);

function cached(
  signature: string,
  instances: readonly HealthyInstance[],
  lines: readonly string[],
  warnings: readonly TagWarning[],
  lineOwners: readonly number[],
  warningOwners: readonly number[],
): Cached {
  const plain = warnings.length === 0 && lineOwners.every((k, j) => k === j);
  // exact-size copies of what is kept (a pushed list has spare slots: 17 for 3 lines)
  return {
    signature,
    instances,
    lines: lines.slice(),
    warnings: warnings.length === 0 ? NO_WARNINGS : warnings.slice(),
    owners: plain ? undefined : lineOwners.concat(warningOwners),
  };
}

/**
 * For each instance of the last translation its index in `now` (-1: no longer healthy); undefined
 * when an instance of `now` is new or its tags changed (the catalog must be read).
 */
function survivors(now: readonly HealthyInstance[], before: readonly HealthyInstance[]): number[] | undefined {
  if (now.length > before.length) return undefined;
  const at = new Map<string, number>();
  for (let k = 0; k < now.length; k++) {
    const i = now[k] as HealthyInstance;
    at.set(instanceKey(i.node, i.id), k);
  }
  const remap: number[] = [];
  let kept = 0;
  for (const b of before) {
    const k = at.get(instanceKey(b.node, b.id));
    if (k !== undefined && !sameStrings(b.tags, (now[k] as HealthyInstance).tags)) return undefined;
    remap.push(k ?? -1);
    if (k !== undefined) kept++;
  }
  return kept === now.length ? remap : undefined;
}

/** The entry of the same instances (equal signature) from a new filter pass: its objects, the same lines. */
function rebind(c: Cached, now: readonly HealthyInstance[]): Cached {
  const before = c.instances;
  const inOrder =
    now.length === before.length && now.every((i, k) => i.node === before[k]?.node && i.id === before[k]?.id);
  if (inOrder) return { ...c, instances: now };
  const remap = survivors(now, before);
  return remap === undefined ? c : shrink(c, now, c.signature, remap);
}

/** The cached lines of the instances still healthy (`remap` from survivors), owned by their new index. */
function shrink(c: Cached, now: readonly HealthyInstance[], signature: string, remap: readonly number[]): Cached {
  const lines: string[] = [];
  const warnings: TagWarning[] = [];
  const lineOwners: number[] = [];
  const warningOwners: number[] = [];
  const n = c.lines.length;
  for (let j = 0; j < n + c.warnings.length; j++) {
    const k = remap[c.owners === undefined ? j : (c.owners[j] as number)] as number;
    if (k < 0) continue;
    if (j < n) {
      lines.push(c.lines[j] as string);
      lineOwners.push(k);
    } else {
      warnings.push(c.warnings[j - n] as TagWarning);
      warningOwners.push(k);
    }
  }
  return cached(signature, now, lines, warnings, lineOwners, warningOwners);
}
