/**
 * Metric naming as fabio does it (section (h)): a namespace rendered from the `metrics.prefix`
 * template and cleaned, an optional subsystem, and the internal name with `.` turned into `_`.
 */

/** The template fabio uses when metrics.prefix is `default` (and the key's default value). */
export const DEFAULT_PREFIX = '{{clean .Hostname}}.{{clean .Exec}}';

/**
 * fabio's `clean`: lower-case, `.` and `:` → `_`, empty → `_`. We also map `-` and every other
 * character Prometheus rejects to `_`, because fabio panics on a hostname with `-` (issue #878).
 */
export function clean(s: string): string {
  if (s === '') return '_';
  return s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/**
 * Renders the tiny subset of Go text/template fabio's prefix uses: literal text plus actions
 * `{{.Hostname}}`, `{{.Exec}}`, `{{clean .Hostname}}`, `{{clean .Exec}}`. Unknown actions render
 * empty, as a missing field would fail in Go; the result is cleaned by the caller anyway.
 */
export function renderPrefix(template: string, vars: { Hostname: string; Exec: string }): string {
  const t = template.trim() === 'default' ? DEFAULT_PREFIX : template;
  return t.replace(/\{\{\s*(clean\s+)?\.(\w+)\s*\}\}/g, (_m, fn: string | undefined, field: string) => {
    const v = field === 'Hostname' ? vars.Hostname : field === 'Exec' ? vars.Exec : '';
    return fn ? clean(v) : v;
  });
}

/** Prometheus namespace: the rendered prefix, cleaned (so `myhost.fabio` → `myhost_fabio`). */
export function namespace(template: string, vars: { Hostname: string; Exec: string }): string {
  return clean(renderPrefix(template, vars));
}

/** `<ns>_[<subsystem>_]<clean(name)>`; an empty namespace or subsystem is left out. */
export function fullName(ns: string, subsystem: string, name: string): string {
  const parts: string[] = [];
  if (ns !== '') parts.push(ns);
  if (subsystem !== '') parts.push(clean(subsystem));
  parts.push(clean(name));
  const n = parts.join('_');
  // A Prometheus name may not start with a digit.
  return /^[0-9]/.test(n) ? `_${n}` : n;
}

/** Parses metrics.prometheus.buckets (`.005,.01,...`); invalid entries are dropped, result sorted. */
export function parseBuckets(s: string): number[] {
  const out = s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(Number)
    .filter((n) => Number.isFinite(n));
  out.sort((a, b) => a - b);
  return [...new Set(out)];
}
