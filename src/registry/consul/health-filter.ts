import { clip } from '../../log/clip.ts';

/**
 * fabio's health filter (section (j) 2) over the body of /v1/health/state/any, in one pass over the
 * checks instead of fabio's quadratic scan, with the same result:
 * - only checks of services that carry a tag starting with the tag prefix count, plus the node and
 *   maintenance checks (`serfHealth`, `_node_maintenance`, `_service_maintenance:<id>`);
 * - an instance (Node + ServiceID) is healthy when one of its checks (checksRequired=one) or all of
 *   them (all) have a status in registry.consul.service.status;
 * - it is excluded when its node's serfHealth is critical, when its node has any _node_maintenance
 *   check, or when `_service_maintenance:<ServiceID>` on its node is critical.
 * Node-level checks other than serfHealth are ignored. Untagged services never appear in the result,
 * so their flaps cause no catalog read.
 */

export interface HealthCheck {
  readonly Node: string;
  readonly CheckID: string;
  readonly Status: string;
  readonly ServiceID: string;
  readonly ServiceName: string;
  readonly ServiceTags: readonly string[] | null;
}

export interface HealthyInstance {
  readonly node: string;
  readonly id: string;
  readonly tags: readonly string[];
}

export interface HealthyService {
  readonly instances: readonly HealthyInstance[];
  /**
   * Identity of the healthy instance set and their tags (an order-independent 64-bit hash plus the
   * count); a catalog read is needed when it changes. Hashing instead of building sorted strings keeps
   * a 15,000-check response in a few milliseconds.
   */
  readonly signature: string;
}

export interface HealthFilterOptions {
  readonly tagPrefix: string;
  /** Accepted statuses, e.g. ['passing'] (registry.consul.service.status split on ','). */
  readonly status: readonly string[];
  readonly checksRequired: 'one' | 'all';
}

const SERF = 'serfHealth';
const NODE_MAINT = '_node_maintenance';
const SVC_MAINT = '_service_maintenance:';

const optString = (v: unknown): boolean => v === undefined || v === null || typeof v === 'string';

/**
 * Why a health-state entry cannot be used, or undefined when it can. Consul's answers are untrusted
 * input: an entry with a field of the wrong type is ignored on its own (the rest of the answer
 * still counts) instead of failing the whole answer. The text names the entry for a log line.
 */
export function checkProblem(c: unknown): string | undefined {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return 'not an object';
  const o = c as Record<string, unknown>;
  const bad =
    typeof o.Node !== 'string'
      ? 'Node is not a string'
      : typeof o.CheckID !== 'string'
        ? 'CheckID is not a string'
        : typeof o.Status !== 'string'
          ? 'Status is not a string'
          : !optString(o.ServiceID)
            ? 'ServiceID is not a string'
            : !optString(o.ServiceName)
              ? 'ServiceName is not a string'
              : o.ServiceTags != null &&
                  (!Array.isArray(o.ServiceTags) || !o.ServiceTags.every((t) => typeof t === 'string'))
                ? 'ServiceTags is not a list of strings'
                : undefined;
  if (bad === undefined) return undefined;
  const q = (v: unknown) => JSON.stringify(clip(String(v ?? '')));
  return `check ${q(o.CheckID)} of service ${q(o.ServiceName)} on node ${q(o.Node)}: ${bad}`;
}

/** Whether two lists hold the same strings in the same order. */
export const sameStrings = (a: readonly string[], b: readonly string[]): boolean =>
  a === b || (a.length === b.length && a.every((t, i) => t === b[i]));

export const instanceKey = (node: string, serviceID: string): string => `${node}\u0000${serviceID}`;

function hasPrefixedTag(tags: readonly string[] | null | undefined, prefix: string): boolean {
  if (!tags) return false;
  for (const t of tags) if (t.trim().startsWith(prefix)) return true;
  return false;
}

interface Instance {
  node: string;
  id: string;
  name: string;
  tags: readonly string[];
  total: number;
  passing: number;
}

/** FNV-1a over a string, continuing from h. */
function fnv(h: number, str: string): number {
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 16777619);
  return h;
}

/** FNV-1a step for one separator code. */
const sep = (h: number, code: number): number => Math.imul(h ^ code, 16777619);

/** Two independent 32-bit hashes of an instance and its tags (in different field orders). */
function instanceHash(inst: HealthyInstance): [number, number] {
  let a = fnv(sep(fnv(2166136261, inst.node), 0), inst.id);
  let b = fnv(sep(fnv(0x5bd1e995, inst.id), 0), inst.node);
  for (const t of inst.tags) {
    a = fnv(sep(a, 1), t);
    b = fnv(sep(b, 1), t);
  }
  return [a >>> 0, b >>> 0];
}

/** Healthy instances grouped by service name. */
export function healthyServices(
  checks: readonly HealthCheck[],
  opts: HealthFilterOptions,
): Map<string, HealthyService> {
  const accepted = new Set(opts.status.map((s) => s.trim()).filter(Boolean));
  const serfCritical = new Set<string>();
  const nodeMaint = new Set<string>();
  const svcMaintCritical = new Set<string>();
  const instances = new Map<string, Instance>();

  for (const c of checks) {
    if (checkProblem(c) !== undefined) continue;
    const node = c.Node;
    const id = c.CheckID;
    if (id === SERF) {
      if (c.Status === 'critical') serfCritical.add(node);
      continue;
    }
    if (id === NODE_MAINT) {
      nodeMaint.add(node);
      continue;
    }
    const sid = c.ServiceID ?? '';
    if (id.startsWith(SVC_MAINT) && c.Status === 'critical')
      svcMaintCritical.add(instanceKey(node, id.slice(SVC_MAINT.length)));
    // Node-level checks (no ServiceID) other than serfHealth do not count (fabio).
    if (sid === '' || !hasPrefixedTag(c.ServiceTags, opts.tagPrefix)) continue;
    const key = instanceKey(node, sid);
    let inst = instances.get(key);
    if (!inst) {
      inst = { node, id: sid, name: String(c.ServiceName ?? ''), tags: c.ServiceTags ?? [], total: 0, passing: 0 };
      instances.set(key, inst);
    }
    // The maintenance check is a check of the instance too (it is critical), as in fabio.
    inst.total++;
    if (accepted.has(c.Status)) inst.passing++;
  }

  const byName = new Map<string, { list: HealthyInstance[]; a: number; b: number }>();
  for (const [key, inst] of instances) {
    if (inst.passing === 0 || (opts.checksRequired === 'all' && inst.passing !== inst.total)) continue;
    if (serfCritical.has(inst.node) || nodeMaint.has(inst.node) || svcMaintCritical.has(key)) continue;
    let g = byName.get(inst.name);
    if (!g) {
      g = { list: [], a: 0, b: 0 };
      byName.set(inst.name, g);
    }
    // only what a HealthyInstance is (the counters and the name stay here): kept while it is healthy
    const lean: HealthyInstance = { node: inst.node, id: inst.id, tags: inst.tags };
    g.list.push(lean);
    const [ha, hb] = instanceHash(lean);
    // Sums are order-independent; duplicates cannot occur (one entry per instance key).
    g.a = (g.a + ha) >>> 0;
    g.b = (g.b + hb) >>> 0;
  }
  const out = new Map<string, HealthyService>();
  // Kept until the service changes: an exact-size list (a pushed one has spare slots) and a flat
  // signature string (a template literal makes a tree of three to five strings).
  for (const [name, g] of byName)
    out.set(name, { instances: g.list.slice(), signature: [g.list.length, g.a, g.b].join(':') });
  return out;
}
