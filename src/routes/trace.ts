import type { Explanation } from './types.ts';

/**
 * fabio's Trace-header lines (≤ v1.6.11, without the `[TRACE] ` prefix), built from an explanation.
 * fabio meant to cap ids at 16 characters but cut ids longer than 16 to 15 (`trace[:15]`); we cap
 * at 16, the evident intent (docs/compat-routes.md).
 */
export const TRACE_ID_MAX = 16;

export function traceId(id: string): string {
  return id.length > TRACE_ID_MAX ? id.slice(0, TRACE_ID_MAX) : id;
}

export function traceLines(id: string, ex: Explanation): string[] {
  const t = traceId(id);
  const out = [`${t} Tracing ${ex.request.host}${ex.request.path}`];
  for (const s of ex.steps) {
    switch (s.kind) {
      case 'hosts':
        out.push(`${t} Matching hosts: [${(s.hosts ?? []).join(' ')}]`);
        break;
      case 'nomatch':
        out.push(`${t} No match ${s.host ?? ''}${s.path ?? ''}`);
        break;
      case 'match':
        out.push(`${t} Match ${s.host ?? ''}${s.path ?? ''}`);
        break;
      default:
        break;
    }
  }
  const r = ex.result;
  if (r !== undefined) out.push(`${t} Routing to service ${r.target.service} on ${r.target.url}`);
  return out;
}
