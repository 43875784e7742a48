import type { CatalogState } from './catalog-state.ts';
import { formatDuration } from './durations.ts';
import type { CheckRecord, ServiceRecord } from './model.ts';

/** Consul's JSON shapes for the records (field names and order as Consul prints them). */

/**
 * JSON text of one check, memoised per record until its ModifyIndex changes (every change to a
 * check bumps it) or the indexes are reset: health/state/any at 15k checks becomes a join of
 * cached strings instead of 15k object builds and one big stringify.
 */
const fragments = new WeakMap<CheckRecord, { gen: number; index: number; json: string; bytes?: Buffer }>();

function fragment(state: CatalogState, c: CheckRecord): { json: string; bytes?: Buffer } {
  const hit = fragments.get(c);
  if (hit && hit.index === c.modifyIndex && hit.gen === state.generation) return hit;
  const f = { gen: state.generation, index: c.modifyIndex, json: JSON.stringify(checkJson(state, c)) };
  fragments.set(c, f);
  return f;
}

export function checkText(state: CatalogState, c: CheckRecord): string {
  return fragment(state, c).json;
}

/** The same JSON, UTF-8 encoded once per change of the check. */
function checkBytes(state: CatalogState, c: CheckRecord): Buffer {
  const f = fragment(state, c);
  f.bytes ??= Buffer.from(f.json);
  return f.bytes;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');

/** Checks per cached block of a list body. */
const BLOCK = 512;

interface Block {
  /** The memoised bytes of its checks (a new Buffer object when a check changes). */
  readonly frags: readonly Buffer[];
  readonly bytes: Buffer;
}

/** The blocks of the last list body, per catalog and list (health/state/any, …/passing, …). */
const listBlocks = new WeakMap<CatalogState, Map<string, readonly Block[]>>();

/**
 * A JSON list of checks as bytes, from the memoised per-check bytes. The list is cut into blocks
 * of BLOCK checks, and a block whose checks are the same fragments as in the last body of the same
 * `list` keeps its joined bytes: a flap at 150,000 checks (50,000 services × 3, 50 MB) costs the
 * encoding of one check and one block join. The blocks are returned as they are (the server writes
 * them in one writev): one 50 MB buffer per answer would make V8 count 50 MB of new external memory
 * per flap and run a full GC over the catalog's heap every few answers.
 */
export function checkListBytes(state: CatalogState, checks: Iterable<CheckRecord>, list = ''): readonly Buffer[] {
  let byList = listBlocks.get(state);
  if (byList === undefined) {
    byList = new Map();
    listBlocks.set(state, byList);
  }
  const before = byList.get(list) ?? [];
  const blocks: Block[] = [];
  let cur: Buffer[] = [];
  const flush = () => {
    const old = before[blocks.length];
    let same = old !== undefined && old.frags.length === cur.length;
    for (let i = 0; same && i < cur.length; i++) same = old?.frags[i] === cur[i];
    if (same) blocks.push(old as Block);
    else {
      const parts: Buffer[] = [];
      for (const f of cur) {
        if (parts.length > 0) parts.push(COMMA);
        parts.push(f);
      }
      blocks.push({ frags: cur, bytes: Buffer.concat(parts) });
    }
    cur = [];
  };
  for (const c of checks) {
    cur.push(checkBytes(state, c));
    if (cur.length === BLOCK) flush();
  }
  if (cur.length > 0) flush();
  byList.set(list, blocks);
  const parts: Buffer[] = [OPEN];
  for (const b of blocks) {
    if (parts.length > 1) parts.push(COMMA);
    parts.push(b.bytes);
  }
  parts.push(CLOSE);
  return parts;
}

export function checkJson(state: CatalogState, c: CheckRecord): object {
  const d = c.def;
  const definition: Record<string, unknown> = {};
  if (d.type === 'http' || d.type === 'tcp') {
    if (d.http) definition.HTTP = d.http;
    if (d.tcp) definition.TCP = d.tcp;
    definition.Interval = formatDuration(d.intervalMs);
    definition.Timeout = formatDuration(d.timeoutMs);
  }
  if (d.deregisterAfterMs > 0) definition.DeregisterCriticalServiceAfter = formatDuration(d.deregisterAfterMs);
  return {
    Node: state.node.name,
    CheckID: d.id,
    Name: d.name,
    Status: c.status,
    Notes: d.notes,
    Output: c.output,
    ServiceID: d.serviceId,
    ServiceName: c.serviceName,
    ServiceTags: c.serviceTags,
    Type: d.type === 'script' ? 'script' : d.type,
    Interval: d.intervalMs > 0 ? formatDuration(d.intervalMs) : '',
    Timeout: d.type === 'http' || d.type === 'tcp' ? formatDuration(d.timeoutMs) : '',
    ExposedPort: 0,
    Definition: definition,
    CreateIndex: c.createIndex,
    ModifyIndex: c.modifyIndex,
  };
}

/** The fields a node object and a flat catalog row start with, in Consul's order. */
function nodeHead(state: CatalogState) {
  const n = state.node;
  return {
    ID: n.id,
    Node: n.name,
    Address: n.address,
    Datacenter: n.datacenter,
    TaggedAddresses: { lan: n.address, lan_ipv4: n.address, wan: n.address, wan_ipv4: n.address },
  };
}

export function nodeJson(state: CatalogState): object {
  const n = state.node;
  return {
    ...nodeHead(state),
    Meta: { 'consul-network-segment': '' },
    CreateIndex: n.createIndex,
    ModifyIndex: n.modifyIndex,
  };
}

/** The Service object of /v1/health/service. */
export function healthServiceJson(s: ServiceRecord): object {
  return {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Address: s.address,
    ...(s.taggedAddresses ? { TaggedAddresses: s.taggedAddresses } : {}),
    Meta: s.meta,
    Port: s.port,
    Weights: s.weights,
    EnableTagOverride: s.enableTagOverride,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    PeerName: '',
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

/** The values of /v1/agent/services. */
export function agentServiceJson(state: CatalogState, s: ServiceRecord): object {
  return {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Meta: s.meta,
    Port: s.port,
    Address: s.address,
    ...(s.taggedAddresses ? { TaggedAddresses: s.taggedAddresses } : {}),
    Weights: s.weights,
    EnableTagOverride: s.enableTagOverride,
    Datacenter: state.node.datacenter,
  };
}

/** One flat row of /v1/catalog/service/<name>. */
export function catalogRowJson(state: CatalogState, s: ServiceRecord): object {
  return {
    ...nodeHead(state),
    NodeMeta: { 'consul-network-segment': '' },
    ServiceKind: '',
    ServiceID: s.id,
    ServiceName: s.name,
    ServiceTags: s.tags,
    ServiceAddress: s.address,
    ServiceTaggedAddresses: s.taggedAddresses ?? {},
    ServiceWeights: s.weights,
    ServiceMeta: s.meta,
    ServicePort: s.port,
    ServiceEnableTagOverride: s.enableTagOverride,
    ServiceProxy: { Mode: '', MeshGateway: {}, Expose: {} },
    ServiceConnect: {},
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

export function agentSelfJson(state: CatalogState, version: string, port: number): object {
  const n = state.node;
  return {
    Config: {
      Datacenter: n.datacenter,
      PrimaryDatacenter: n.datacenter,
      NodeName: n.name,
      NodeID: n.id,
      Server: true,
      Revision: 'fabio-ts-dev-catalog',
      Version: version,
    },
    DebugConfig: { Note: 'fabio-ts embedded dev catalog: in memory only, not Consul' },
    Coord: { Vec: [0, 0, 0, 0, 0, 0, 0, 0], Error: 1.5, Adjustment: 0, Height: 1e-5 },
    Member: {
      Name: n.name,
      Addr: n.address,
      Port: port,
      Tags: { build: `${version}:fabio-ts`, dc: n.datacenter, id: n.id, role: 'consul', segment: '', vsn: '2' },
      Status: 1,
      ProtocolMin: 1,
      ProtocolMax: 5,
      ProtocolCur: 2,
      DelegateMin: 2,
      DelegateMax: 5,
      DelegateCur: 4,
    },
    Meta: { 'consul-network-segment': '' },
  };
}
