import { type BlockingPolicy, blocking, type Ctx, HttpError, isTrue, type Reply, readBody } from './http-util.ts';
import type { KvEntry, KvStore } from './kv-store.ts';
import type { WatchHub } from './watch-hub.ts';

/** /v1/kv/<key>: GET (?recurse, ?keys, ?separator, ?raw, blocking), PUT (?cas, ?flags), DELETE. */

export interface KvDeps {
  readonly kv: KvStore;
  readonly hub: WatchHub;
  readonly policy: BlockingPolicy;
}

/** Consul's kv_max_value_size default. */
const MAX_VALUE = 512 * 1024;

function entryJson(e: KvEntry): object {
  return {
    LockIndex: 0,
    Key: e.key,
    Flags: e.flags,
    Value: e.value.length === 0 ? null : e.value.toString('base64'),
    CreateIndex: e.createIndex,
    ModifyIndex: e.modifyIndex,
  };
}

function uintParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new HttpError(400, `Invalid ${name} value: ${v}`);
  return Number(v);
}

function notFound(index: number): Reply {
  return { status: 404, index, body: '' };
}

function read(d: KvDeps, key: string, q: URLSearchParams): Reply {
  const keysOnly = q.has('keys');
  const prefix = keysOnly || isTrue(q, 'recurse');
  const index = d.kv.indexOf(key, prefix);
  if (keysOnly) {
    const sep = q.get('separator') ?? '';
    const out: string[] = [];
    for (const e of d.kv.list(key)) {
      let k = e.key;
      if (sep !== '') {
        const at = k.indexOf(sep, key.length);
        if (at >= 0) k = k.slice(0, at + sep.length);
      }
      if (out[out.length - 1] !== k) out.push(k);
    }
    return out.length === 0 ? notFound(index) : { status: 200, index, body: JSON.stringify(out) };
  }
  if (prefix) {
    const list = d.kv.list(key);
    return list.length === 0 ? notFound(index) : { status: 200, index, body: JSON.stringify(list.map(entryJson)) };
  }
  const e = d.kv.get(key);
  if (!e) return notFound(index);
  if (q.has('raw')) return { status: 200, index, body: e.value, contentType: 'application/octet-stream' };
  return { status: 200, index, body: JSON.stringify([entryJson(e)]) };
}

export async function kvApi(d: KvDeps, ctx: Ctx, method: string, key: string): Promise<Reply> {
  const q = ctx.query;
  switch (method) {
    case 'GET': {
      const prefix = q.has('keys') || isTrue(q, 'recurse');
      return blocking(ctx, { ...d.policy, park: (ms, s) => d.hub.waitKv(key, prefix, ms, s) }, () => read(d, key, q));
    }
    case 'PUT': {
      if (key === '') throw new HttpError(400, 'Missing key name');
      if (q.has('acquire') || q.has('release'))
        throw new HttpError(400, 'sessions are not supported by the fabio-ts dev catalog');
      const value = await readBody(ctx.req, MAX_VALUE);
      const ok = d.kv.put(key, value, uintParam(q, 'flags') ?? 0, uintParam(q, 'cas'));
      return { status: 200, index: d.kv.tableIndex, body: ok ? 'true' : 'false' };
    }
    case 'DELETE': {
      const recurse = isTrue(q, 'recurse');
      if (key === '' && !recurse) throw new HttpError(400, 'Missing key name');
      const ok = d.kv.delete(key, recurse, uintParam(q, 'cas'));
      return { status: 200, index: d.kv.tableIndex, body: ok ? 'true' : 'false' };
    }
    default:
      throw new HttpError(405, `method ${method} not allowed`);
  }
}
