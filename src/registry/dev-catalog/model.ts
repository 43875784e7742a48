/** Records held by the embedded catalog (in memory only). Field names follow Consul's JSON. */

export type CheckStatus = 'passing' | 'warning' | 'critical';
export const CHECK_STATUSES: readonly CheckStatus[] = ['passing', 'warning', 'critical'];

export interface TaggedAddress {
  readonly Address: string;
  readonly Port: number;
}

/** A service registration as accepted by /v1/agent/service/register (normalised). */
export interface ServiceDef {
  readonly id: string;
  readonly name: string;
  readonly tags: readonly string[];
  readonly address: string;
  readonly port: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly enableTagOverride: boolean;
  readonly weights: { readonly Passing: number; readonly Warning: number };
  readonly taggedAddresses: Readonly<Record<string, TaggedAddress>> | undefined;
}

export interface ServiceRecord extends ServiceDef {
  createIndex: number;
  modifyIndex: number;
}

/** What the check runner executes; type '' = never run (serfHealth, maintenance, script...). */
export interface CheckDef {
  readonly id: string;
  readonly name: string;
  readonly notes: string;
  readonly serviceId: string;
  /** Initial status when given in the registration (Consul's default is critical). */
  readonly status: CheckStatus | undefined;
  readonly type: 'http' | 'tcp' | 'ttl' | 'script' | 'grpc' | 'h2ping' | 'alias' | '';
  readonly http: string;
  readonly method: string;
  readonly header: Readonly<Record<string, readonly string[]>>;
  readonly body: string;
  readonly tlsSkipVerify: boolean;
  readonly tcp: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly ttlMs: number;
  readonly deregisterAfterMs: number;
}

export interface CheckRecord {
  readonly def: CheckDef;
  status: CheckStatus;
  output: string;
  serviceName: string;
  serviceTags: readonly string[];
  createIndex: number;
  modifyIndex: number;
  /** Date.now() when the check last turned critical (deregister_critical_service_after). */
  criticalSince: number | undefined;
}

export function plainCheck(id: string, name: string, notes: string, serviceId = ''): CheckDef {
  return {
    id,
    name,
    notes,
    serviceId,
    status: undefined,
    type: '',
    http: '',
    method: '',
    header: {},
    body: '',
    tlsSkipVerify: false,
    tcp: '',
    intervalMs: 0,
    timeoutMs: 0,
    ttlMs: 0,
    deregisterAfterMs: 0,
  };
}

export const SERF_CHECK_ID = 'serfHealth';
export const NODE_MAINT_ID = '_node_maintenance';
export const SERVICE_MAINT_PREFIX = '_service_maintenance:';
