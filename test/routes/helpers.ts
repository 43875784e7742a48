import type { BuildOptions, LookupRequest, Table } from '../../src/routes/index.ts';
import { buildTable } from '../../src/routes/index.ts';

export const OPTS: BuildOptions = { matcher: 'prefix', strategy: 'rr', globDisabled: false, globCacheSize: 100 };

export function table(text: string, over: Partial<BuildOptions> = {}): Table {
  return buildTable(text, { ...OPTS, ...over });
}

export function req(host: string, path: string, over: Partial<LookupRequest> = {}): LookupRequest {
  return { host, path, tls: false, ...over };
}

/** The URL the request is routed to, or undefined. */
export function dst(t: Table, host: string, path: string, over: Partial<LookupRequest> = {}): string | undefined {
  return t.lookup(req(host, path, over))?.target.url;
}
