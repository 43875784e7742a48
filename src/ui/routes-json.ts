import type { Table } from '../routes/types.ts';

/** One row of /api/routes, in fabio's field order (section (g)). */
export interface RouteJson {
  service: string;
  host: string;
  path: string;
  src: string;
  dst: string;
  opts: string;
  cmd: 'route add';
  tags?: string[];
  weight: number;
  rate1: number;
  pct99: number;
}

/**
 * /api/routes rows: hosts ascending (host-less first), paths descending, targets in insertion
 * order, zero-weight targets included. fabio prints opts in Go's random map order; we sort them
 * so the output is stable. rate1/pct99 stay 0 as in fabio (traffic lives in /api/traffic).
 */
export function routesJson(table: Table | undefined): RouteJson[] | null {
  if (!table) return null;
  const out: RouteJson[] = [];
  for (const r of table.routes) {
    for (const t of r.targets) {
      const opts = Object.keys(t.opts)
        .sort()
        .map((k) => `${k}=${t.opts[k]}`)
        .join(' ');
      // Spread keeps fabio's field order: tags (only when present) between cmd and weight.
      const row: RouteJson = {
        service: t.service,
        host: r.host,
        path: r.path,
        src: r.host + r.path,
        dst: t.url,
        opts,
        cmd: 'route add',
        ...(t.tags.length > 0 ? { tags: [...t.tags] } : {}),
        weight: t.weight,
        rate1: 0,
        pct99: 0,
      };
      out.push(row);
    }
  }
  return out.length === 0 ? null : out;
}
