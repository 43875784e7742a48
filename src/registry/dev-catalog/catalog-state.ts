import {
  type CheckDef,
  type CheckRecord,
  type CheckStatus,
  NODE_MAINT_ID,
  plainCheck,
  SERF_CHECK_ID,
  SERVICE_MAINT_PREFIX,
  type ServiceDef,
  type ServiceRecord,
} from './model.ts';
import { WatchHub } from './watch-hub.ts';

/**
 * The agent's services and checks for its one node, with a raft-like global index that grows on
 * every write. Each write records which topics it touched ('checks', 'services', 'svc:<name>')
 * and wakes only the requests blocked on those. Per-topic indexes are what the read endpoints
 * report in X-Consul-Index, as Consul reports per-table / per-service indexes.
 */

export interface NodeInfo {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly datacenter: string;
  createIndex: number;
  modifyIndex: number;
}

export interface StateHooks {
  checkAdded(c: CheckRecord): void;
  checkRemoved(id: string): void;
}

export class CatalogState {
  readonly hub = new WatchHub();
  readonly node: NodeInfo;
  readonly services = new Map<string, ServiceRecord>();
  readonly checks = new Map<string, CheckRecord>();
  /** Highest index handed out (writes to KV also take indexes from here). */
  index: number;
  checksIndex: number;
  servicesIndex: number;
  readonly serviceIndex = new Map<string, number>();
  /** Secondary indexes so reads and writes stay O(instances), not O(catalog), at 15k instances. */
  readonly #byName = new Map<string, Set<string>>();
  /** Check IDs by ServiceID ('' = node-level checks). */
  readonly #bySvc = new Map<string, Set<string>>();
  /** Bumped by setIndex(): memoised JSON fragments carry indexes and must be rebuilt. */
  generation = 0;
  hooks: StateHooks = { checkAdded: () => {}, checkRemoved: () => {} };
  readonly #cache = new Map<string, { index: number; body: Buffer | readonly Buffer[] }>();

  constructor(node: { name: string; id: string; address: string; datacenter: string }, initialIndex = 1) {
    this.index = Math.max(1, initialIndex);
    this.node = { ...node, createIndex: this.index, modifyIndex: this.index };
    this.checksIndex = this.index;
    this.servicesIndex = this.index;
    const serf = this.#newCheck(plainCheck(SERF_CHECK_ID, 'Serf Health Status', ''), this.index);
    serf.status = 'passing';
    serf.output = 'Agent alive and reachable';
    serf.criticalSince = undefined;
    this.checks.set(SERF_CHECK_ID, serf);
    this.#bySvc.set('', new Set([SERF_CHECK_ID]));
  }

  /** Next index for a write. */
  next(): number {
    return ++this.index;
  }

  /**
   * Body serialised and UTF-8 encoded once per (key, index): many watchers woken by one write
   * share the same bytes (health/state/any is ~5 MB at 15k instances).
   */
  cached(key: string, index: number, build: () => string | Buffer): Buffer;
  /** Large lists: byte blocks, written in order (views.ts checkListBytes). */
  cached(key: string, index: number, build: () => readonly Buffer[]): readonly Buffer[];
  cached(key: string, index: number, build: () => string | Buffer | readonly Buffer[]): Buffer | readonly Buffer[] {
    const hit = this.#cache.get(key);
    if (hit && hit.index === index) return hit.body;
    const built = build();
    const body = typeof built === 'string' ? Buffer.from(built) : built;
    // Keys include names from request paths: bound the map so odd clients cannot grow it forever.
    if (this.#cache.size >= 20_000) this.#cache.clear();
    this.#cache.set(key, { index, body });
    return body;
  }

  /** Index of health/service and catalog/service for one name (table index when unknown). */
  indexOfService(name: string): number {
    return this.serviceIndex.get(name) ?? Math.max(this.servicesIndex, this.checksIndex);
  }

  instancesOf(name: string): ServiceRecord[] {
    const out: ServiceRecord[] = [];
    for (const id of this.#byName.get(name) ?? []) {
      const s = this.services.get(id);
      if (s) out.push(s);
    }
    return out;
  }

  checksOfService(id: string): CheckRecord[] {
    const out: CheckRecord[] = [];
    for (const cid of this.#bySvc.get(id) ?? []) {
      const c = this.checks.get(cid);
      if (c) out.push(c);
    }
    return out;
  }

  nodeChecks(): CheckRecord[] {
    return this.checksOfService('');
  }

  #link<K>(m: Map<K, Set<string>>, k: K, v: string): void {
    let set = m.get(k);
    if (!set) {
      set = new Set();
      m.set(k, set);
    }
    set.add(v);
  }

  #unlink<K>(m: Map<K, Set<string>>, k: K, v: string): void {
    const set = m.get(k);
    if (!set) return;
    set.delete(v);
    if (set.size === 0 && k !== '') m.delete(k);
  }

  /** Adds or replaces a service and its checks (existing check status is kept, as the agent does). */
  register(def: ServiceDef, checks: readonly CheckDef[], replaceExistingChecks: boolean): void {
    const prev = this.services.get(def.id);
    // Like Consul's catalog, an identical registration is not a write (no index bump, no wake-up):
    // agents and schedulers re-register periodically.
    if (prev && this.#unchanged(prev, def, checks, replaceExistingChecks)) return;
    const idx = this.next();
    const touched = new Set<string>([def.name]);
    if (prev) touched.add(prev.name);
    this.services.set(def.id, { ...def, createIndex: prev?.createIndex ?? idx, modifyIndex: idx });
    if (prev && prev.name !== def.name) this.#unlink(this.#byName, prev.name, def.id);
    this.#link(this.#byName, def.name, def.id);
    const keep = new Set(checks.map((c) => c.id));
    if (prev) {
      for (const c of this.checksOfService(def.id)) {
        const maint = c.def.id.startsWith(SERVICE_MAINT_PREFIX);
        if (!maint && (replaceExistingChecks || prev.name !== def.name) && !keep.has(c.def.id))
          this.#dropCheck(c.def.id);
        else {
          c.serviceName = def.name;
          c.serviceTags = def.tags;
          c.modifyIndex = idx;
        }
      }
    }
    for (const cd of checks) this.#putCheck(cd, def, idx);
    this.#wrote(idx, touched, true, true);
  }

  #unchanged(prev: ServiceRecord, def: ServiceDef, checks: readonly CheckDef[], replace: boolean): boolean {
    const { createIndex: _c, modifyIndex: _m, ...was } = prev;
    if (JSON.stringify(was) !== JSON.stringify(def)) return false;
    for (const cd of checks) {
      const c = this.checks.get(cd.id);
      if (!c || c.def.serviceId !== def.id || JSON.stringify(c.def) !== JSON.stringify(cd)) return false;
      if (cd.status !== undefined && cd.status !== c.status) return false;
    }
    if (!replace) return true;
    const keep = new Set(checks.map((c) => c.id));
    return this.checksOfService(def.id).every((c) => keep.has(c.def.id) || c.def.id.startsWith(SERVICE_MAINT_PREFIX));
  }

  deregister(id: string): boolean {
    const s = this.services.get(id);
    if (!s) return false;
    const idx = this.next();
    this.services.delete(id);
    this.#unlink(this.#byName, s.name, id);
    for (const c of this.checksOfService(id)) this.#dropCheck(c.def.id);
    this.#wrote(idx, new Set([s.name]), true, true);
    return true;
  }

  /** Adds a check on its own (/v1/agent/check/register). Throws when the service is unknown. */
  addCheck(cd: CheckDef): void {
    const svc = cd.serviceId ? this.services.get(cd.serviceId) : undefined;
    if (cd.serviceId && !svc) throw new Error(`ServiceID "${cd.serviceId}" does not exist`);
    const idx = this.next();
    this.#putCheck(cd, svc, idx);
    this.#wrote(idx, svc ? new Set([svc.name]) : 'all', true, false);
  }

  removeCheck(id: string): boolean {
    const c = this.checks.get(id);
    if (!c || id === SERF_CHECK_ID) return false;
    const idx = this.next();
    this.#dropCheck(id);
    this.#wrote(idx, c.def.serviceId ? new Set([c.serviceName]) : 'all', true, false);
    return true;
  }

  /** Sets status/output; a write (and a wake-up) only when something changed, as Consul does. */
  updateCheck(id: string, status: CheckStatus, output: string): boolean {
    const c = this.checks.get(id);
    if (!c) return false;
    if (c.status === status && c.output === output) return true;
    const idx = this.next();
    if (status === 'critical' && c.status !== 'critical') c.criticalSince = Date.now();
    if (status !== 'critical') c.criticalSince = undefined;
    c.status = status;
    c.output = output;
    c.modifyIndex = idx;
    this.#wrote(idx, c.def.serviceId ? new Set([c.serviceName]) : 'all', true, false);
    return true;
  }

  /** Adds or removes `_service_maintenance:<id>` (critical). False when the service is unknown. */
  serviceMaintenance(id: string, enable: boolean, reason: string): boolean {
    const s = this.services.get(id);
    if (!s) return false;
    const cid = SERVICE_MAINT_PREFIX + id;
    if (!enable) {
      if (this.checks.has(cid)) this.removeCheck(cid);
      return true;
    }
    if (this.checks.has(cid)) return true;
    const notes =
      reason || 'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';
    const def = { ...plainCheck(cid, 'Service Maintenance Mode', notes, id), status: 'critical' as const };
    const idx = this.next();
    this.#putCheck(def, s, idx);
    this.#wrote(idx, new Set([s.name]), true, false);
    return true;
  }

  nodeMaintenance(enable: boolean, reason: string): void {
    if (!enable) {
      if (this.checks.has(NODE_MAINT_ID)) this.removeCheck(NODE_MAINT_ID);
      return;
    }
    if (this.checks.has(NODE_MAINT_ID)) return;
    const notes =
      reason || 'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.';
    const def = { ...plainCheck(NODE_MAINT_ID, 'Node Maintenance Mode', notes), status: 'critical' as const };
    const idx = this.next();
    this.#putCheck(def, undefined, idx);
    this.#wrote(idx, 'all', true, false);
  }

  /**
   * Test hook: moves every index to at most `n` (as after a snapshot restore) and wakes all
   * blocked requests, so clients see the index go backwards.
   */
  setIndex(n: number): void {
    const v = Math.max(1, Math.floor(n));
    const clamp = (x: number) => Math.min(x, v);
    this.index = v;
    this.checksIndex = clamp(this.checksIndex);
    this.servicesIndex = clamp(this.servicesIndex);
    for (const [k, x] of this.serviceIndex) this.serviceIndex.set(k, clamp(x));
    for (const s of this.services.values()) {
      s.createIndex = clamp(s.createIndex);
      s.modifyIndex = clamp(s.modifyIndex);
    }
    for (const c of this.checks.values()) {
      c.createIndex = clamp(c.createIndex);
      c.modifyIndex = clamp(c.modifyIndex);
    }
    this.node.createIndex = clamp(this.node.createIndex);
    this.node.modifyIndex = clamp(this.node.modifyIndex);
    this.#cache.clear();
    this.generation++;
  }

  #newCheck(def: CheckDef, idx: number): CheckRecord {
    const status = def.status ?? 'critical';
    return {
      def,
      status,
      output: '',
      serviceName: '',
      serviceTags: [],
      createIndex: idx,
      modifyIndex: idx,
      criticalSince: status === 'critical' ? Date.now() : undefined,
    };
  }

  #putCheck(def: CheckDef, svc: ServiceDef | undefined, idx: number): void {
    const prev = this.checks.get(def.id);
    const c = this.#newCheck(def, idx);
    if (prev) {
      this.hooks.checkRemoved(def.id);
      c.createIndex = prev.createIndex;
      if (def.status === undefined) {
        c.status = prev.status;
        c.output = prev.output;
        c.criticalSince = prev.criticalSince;
      }
    }
    c.serviceName = svc?.name ?? '';
    c.serviceTags = svc?.tags ?? [];
    if (prev && prev.def.serviceId !== def.serviceId) this.#unlink(this.#bySvc, prev.def.serviceId, def.id);
    this.checks.set(def.id, c);
    this.#link(this.#bySvc, def.serviceId, def.id);
    this.hooks.checkAdded(c);
  }

  #dropCheck(id: string): void {
    const c = this.checks.get(id);
    if (!c) return;
    this.checks.delete(id);
    this.#unlink(this.#bySvc, c.def.serviceId, id);
    this.hooks.checkRemoved(id);
  }

  #wrote(idx: number, names: Set<string> | 'all', checks: boolean, services: boolean): void {
    const topics: string[] = [];
    if (checks) {
      this.checksIndex = idx;
      topics.push('checks');
    }
    if (services) {
      this.servicesIndex = idx;
      topics.push('services');
    }
    // A node-level check changes the health of every service on the node.
    const all = names === 'all' ? this.#byName.keys() : names;
    for (const n of all) {
      this.serviceIndex.set(n, idx);
      topics.push(`svc:${n}`);
    }
    this.hub.notify(topics);
  }
}
