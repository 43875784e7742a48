import { notFoundOrMethod } from './api-agent.ts';
import type { CatalogState } from './catalog-state.ts';
import { type BlockingPolicy, blocking, type Ctx, HttpError, isTrue, json, type Reply } from './http-util.ts';
import type { ServiceRecord } from './model.ts';
import { catalogRowJson, checkJson, checkListBytes, healthServiceJson, nodeJson } from './views.ts';

/**
 * /v1/health/*, /v1/catalog/* and /v1/status/*: the cluster-wide reads. Each answer is
 * serialised once per index and cache key, so thousands of watchers woken by one write share
 * one JSON.stringify.
 */

export interface ReadDeps {
  readonly state: CatalogState;
  readonly policy: BlockingPolicy;
}

const STATES = new Set(['any', 'passing', 'warning', 'critical']);

function withTags(list: ServiceRecord[], q: URLSearchParams): ServiceRecord[] {
  const tags = q.getAll('tag');
  if (tags.length === 0) return list;
  return list.filter((s) => tags.every((t) => s.tags.includes(t)));
}

function healthService(d: ReadDeps, name: string, q: URLSearchParams): Reply {
  const { state } = d;
  const passing = isTrue(q, 'passing');
  const index = state.indexOfService(name);
  const key = `health:service:${passing}:${q.getAll('tag').join(',')}:${name}`;
  const body = state.cached(key, index, () => {
    const nodeChecks = state.nodeChecks();
    const out: object[] = [];
    for (const s of withTags(state.instancesOf(name), q)) {
      const checks = [...nodeChecks, ...state.checksOfService(s.id)];
      if (passing && checks.some((c) => c.status !== 'passing')) continue;
      out.push({
        Node: nodeJson(state),
        Service: healthServiceJson(s),
        Checks: checks.map((c) => checkJson(state, c)),
      });
    }
    return JSON.stringify(out);
  });
  return { status: 200, index, body };
}

function catalogService(d: ReadDeps, name: string, q: URLSearchParams): Reply {
  const { state } = d;
  const index = state.indexOfService(name);
  const key = `catalog:service:${q.getAll('tag').join(',')}:${name}`;
  const body = state.cached(key, index, () =>
    JSON.stringify(withTags(state.instancesOf(name), q).map((s) => catalogRowJson(state, s))),
  );
  return { status: 200, index, body };
}

const READ_ROUTES: Record<string, string> = {
  'health/state': 'GET',
  'health/service': 'GET',
  'health/checks': 'GET',
  'health/node': 'GET',
  'catalog/services': 'GET',
  'catalog/service': 'GET',
  'catalog/nodes': 'GET',
  'catalog/node': 'GET',
  'catalog/datacenters': 'GET',
  'status/leader': 'GET',
  'status/peers': 'GET',
};

/** `path` is the decoded path after /v1/ (health/..., catalog/..., status/...). */
export async function readApi(d: ReadDeps, ctx: Ctx, method: string, path: string): Promise<Reply> {
  const { state } = d;
  const m = /^([a-z]+\/[a-z]+)(?:\/(.*))?$/.exec(path);
  const route = m?.[1] ?? path;
  const arg = m?.[2] ?? '';
  if (method !== 'GET' || READ_ROUTES[route] === undefined) throw notFoundOrMethod(method, route, READ_ROUTES);
  const q = ctx.query;
  const onTopic = (topic: string) => ({
    ...d.policy,
    park: (ms: number, s: AbortSignal) => state.hub.wait(topic, ms, s),
  });
  switch (route) {
    case 'health/state': {
      if (!STATES.has(arg)) throw new HttpError(400, `Invalid state: "${arg}"`);
      return blocking(ctx, onTopic('checks'), () => {
        const index = state.checksIndex;
        const body = state.cached(`health:state:${arg}`, index, () =>
          checkListBytes(
            state,
            arg === 'any' ? state.checks.values() : [...state.checks.values()].filter((c) => c.status === arg),
            arg,
          ),
        );
        return { status: 200, index, body };
      });
    }
    case 'health/service':
      if (arg === '') throw new HttpError(400, 'Missing service name');
      return blocking(ctx, onTopic(`svc:${arg}`), () => healthService(d, arg, q));
    case 'health/checks':
      if (arg === '') throw new HttpError(400, 'Missing service name');
      return blocking(ctx, onTopic(`svc:${arg}`), () => {
        const checks = state.instancesOf(arg).flatMap((s) => state.checksOfService(s.id));
        return json(
          checks.map((c) => checkJson(state, c)),
          state.indexOfService(arg),
        );
      });
    case 'health/node':
      return blocking(ctx, onTopic('checks'), () =>
        json(
          arg === state.node.name ? [...state.checks.values()].map((c) => checkJson(state, c)) : [],
          state.checksIndex,
        ),
      );
    case 'catalog/services':
      return blocking(ctx, onTopic('services'), () => {
        const index = state.servicesIndex;
        const body = state.cached('catalog:services', index, () => {
          const tags = new Map<string, Set<string>>();
          for (const s of state.services.values()) {
            let set = tags.get(s.name);
            if (!set) {
              set = new Set();
              tags.set(s.name, set);
            }
            for (const t of s.tags) set.add(t);
          }
          const out: Record<string, string[]> = {};
          for (const name of [...tags.keys()].sort()) out[name] = [...(tags.get(name) as Set<string>)].sort();
          return JSON.stringify(out);
        });
        return { status: 200, index, body };
      });
    case 'catalog/service':
      if (arg === '') throw new HttpError(400, 'Missing service name');
      return blocking(ctx, onTopic(`svc:${arg}`), () => catalogService(d, arg, q));
    case 'catalog/nodes':
      return json([{ ...nodeJson(state) }], state.node.modifyIndex);
    case 'catalog/node': {
      if (arg !== state.node.name) return json(null, state.servicesIndex);
      const services: Record<string, object> = {};
      for (const s of state.services.values()) services[s.id] = healthServiceJson(s);
      return json({ Node: nodeJson(state), Services: services }, state.servicesIndex);
    }
    case 'catalog/datacenters':
      return json([state.node.datacenter], state.index);
    case 'status/leader':
      return json(`${state.node.address}:8300`, state.index);
    default:
      return json([`${state.node.address}:8300`], state.index);
  }
}
