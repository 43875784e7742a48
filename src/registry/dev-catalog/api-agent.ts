import { createHash } from 'node:crypto';
import type { CatalogState } from './catalog-state.ts';
import type { CheckRunner } from './check-runner.ts';
import {
  type BlockingOptions,
  type BlockingPolicy,
  blocking,
  type Ctx,
  HttpError,
  json,
  type Reply,
  readJson,
} from './http-util.ts';
import { CHECK_STATUSES, type CheckStatus } from './model.ts';
import { BadRequest, decodeCheck, decodeService } from './register-body.ts';
import { agentSelfJson, agentServiceJson, checkText } from './views.ts';

/** /v1/agent/*: the local agent's view (self, services, checks) and its write endpoints. */

export interface AgentDeps {
  readonly state: CatalogState;
  readonly runner: CheckRunner;
  readonly version: string;
  readonly port: () => number;
  readonly policy: BlockingPolicy;
}

const MAX_CHECK_OUTPUT = 4096;

/** Content hashes of cached bodies (the same Buffer is served until the index moves). */
const hashes = new WeakMap<Buffer, string>();

/** A reply with X-Consul-ContentHash (opaque to clients: 16 hex digits of SHA-256). */
function hashed(index: number, body: Buffer): Reply {
  let hash = hashes.get(body);
  if (hash === undefined) {
    hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
    hashes.set(body, hash);
  }
  return { status: 200, index, body, hash };
}

function decoded<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof BadRequest) throw new HttpError(400, err.message);
    throw err;
  }
}

function enableParam(ctx: Ctx): boolean {
  const v = ctx.query.get('enable');
  if (v === null || v === '') throw new HttpError(400, 'Missing value for enable');
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new HttpError(400, `Invalid value for enable: "${v}"`);
}

function ok(state: CatalogState): Reply {
  return { status: 200, index: state.index, body: '' };
}

function updateTtl(d: AgentDeps, id: string, status: CheckStatus, output: string): Reply {
  const c = d.state.checks.get(id);
  if (!c) throw new HttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  if (c.def.type !== 'ttl') throw new HttpError(500, `CheckID "${id}" does not have associated TTL`);
  d.state.updateCheck(
    id,
    status,
    output.length > MAX_CHECK_OUTPUT
      ? `${output.slice(0, MAX_CHECK_OUTPUT)} ... (captured 4096 of ${output.length} bytes)`
      : output,
  );
  const now = d.state.checks.get(id);
  if (now) d.runner.touched(now);
  return ok(d.state);
}

const WITH_ID = [
  'service/deregister',
  'service/maintenance',
  'check/deregister',
  'check/update',
  'check/pass',
  'check/warn',
  'check/fail',
];

function splitRoute(p: string): { name: string; id: string } {
  for (const n of WITH_ID) if (p.startsWith(`${n}/`)) return { name: n, id: p.slice(n.length + 1) };
  if (p.startsWith('service/') && p !== 'service/register') return { name: 'service', id: p.slice(8) };
  return { name: p, id: '' };
}

/** `path` is the decoded path after /v1/agent/. */
export async function agentApi(d: AgentDeps, ctx: Ctx, method: string, path: string): Promise<Reply> {
  const { state } = d;
  const { name, id: sid } = splitRoute(path);
  const opts: BlockingOptions = { ...d.policy, park: (ms, s) => state.hub.wait('services', ms, s) };
  const route = `${method} ${name}`;
  switch (route) {
    case 'GET self':
      return json(agentSelfJson(state, d.version, d.port()), state.index);
    case 'GET services':
      return blocking(ctx, opts, () =>
        hashed(
          state.servicesIndex,
          state.cached('agent:services', state.servicesIndex, () => {
            const out: Record<string, object> = {};
            for (const s of state.services.values()) out[s.id] = agentServiceJson(state, s);
            return JSON.stringify(out);
          }),
        ),
      );
    case 'GET checks':
      return blocking(ctx, { ...opts, park: (ms, s) => state.hub.wait('checks', ms, s) }, () =>
        hashed(
          state.checksIndex,
          state.cached('agent:checks', state.checksIndex, () => {
            const out: string[] = [];
            for (const c of state.checks.values()) out.push(`${JSON.stringify(c.def.id)}:${checkText(state, c)}`);
            return `{${out.join(',')}}`;
          }),
        ),
      );
  }
  switch (route) {
    case 'GET service':
      return blocking(ctx, opts, () => {
        const s = state.services.get(sid);
        if (!s) throw new HttpError(404, `unknown service ID: ${sid}`);
        return hashed(state.servicesIndex, Buffer.from(JSON.stringify(agentServiceJson(state, s))));
      });
    case 'PUT service/register': {
      const body = await readJson(ctx.req);
      const { service, checks } = decoded(() => decodeService(body));
      const replace = ctx.query.has('replace-existing-checks') && ctx.query.get('replace-existing-checks') !== 'false';
      state.register(service, checks, replace);
      return ok(state);
    }
    case 'PUT service/deregister':
      if (!state.deregister(sid))
        throw new HttpError(
          404,
          `Unknown service ID "${sid}". Ensure that the service ID is passed, not the service name.`,
        );
      return ok(state);
    case 'PUT service/maintenance': {
      const enable = enableParam(ctx);
      if (!state.serviceMaintenance(sid, enable, ctx.query.get('reason') ?? ''))
        throw new HttpError(
          404,
          `Unknown service ID "${sid}". Ensure that the service ID is passed, not the service name.`,
        );
      return ok(state);
    }
    case 'PUT check/register': {
      const body = await readJson(ctx.req);
      const def = decoded(() => decodeCheck(body));
      try {
        state.addCheck(def);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
      return ok(state);
    }
    case 'PUT check/deregister':
      if (!state.removeCheck(sid))
        throw new HttpError(404, `Unknown check ID "${sid}". Ensure that the check ID is passed, not the check name.`);
      return ok(state);
    case 'PUT check/update': {
      const body = await readJson(ctx.req);
      const o = (body ?? {}) as Record<string, unknown>;
      const status = String(o.Status ?? o.status ?? '');
      if (!CHECK_STATUSES.includes(status as CheckStatus))
        throw new HttpError(400, `Invalid check status: "${status}"`);
      return updateTtl(d, sid, status as CheckStatus, String(o.Output ?? o.output ?? ''));
    }
    case 'PUT check/pass':
      return updateTtl(d, sid, 'passing', ctx.query.get('note') ?? '');
    case 'PUT check/warn':
      return updateTtl(d, sid, 'warning', ctx.query.get('note') ?? '');
    case 'PUT check/fail':
      return updateTtl(d, sid, 'critical', ctx.query.get('note') ?? '');
    case 'PUT maintenance':
      state.nodeMaintenance(enableParam(ctx), ctx.query.get('reason') ?? '');
      return ok(state);
  }
  throw notFoundOrMethod(method, name, AGENT_ROUTES);
}

const AGENT_ROUTES: Record<string, string> = {
  self: 'GET',
  services: 'GET',
  checks: 'GET',
  service: 'GET',
  'service/register': 'PUT',
  'service/deregister': 'PUT',
  'service/maintenance': 'PUT',
  'check/register': 'PUT',
  'check/deregister': 'PUT',
  'check/update': 'PUT',
  'check/pass': 'PUT',
  'check/warn': 'PUT',
  'check/fail': 'PUT',
  maintenance: 'PUT',
};

/** Consul answers 405 for a known path with the wrong method, 404 for an unknown path. */
export function notFoundOrMethod(method: string, path: string, known: Record<string, string>): HttpError {
  if (known[path] !== undefined) return new HttpError(405, `method ${method} not allowed`);
  return new HttpError(404, '404 page not found');
}
