/**
 * Metric naming as fabio does it (section (h)): a namespace rendered from the `metrics.prefix`
 * template and cleaned, an optional subsystem, and the internal name with `.` turned into `_`.
 */

/** The template fabio uses when metrics.prefix is `default` (and the key's default value). */
const DEFAULT_PREFIX = '{{clean .Hostname}}.{{clean .Exec}}';

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
export function renderPrefix(
  template: string,
  vars: { Hostname: string; Exec: string },
  cleaner: (s: string) => string = clean,
): string {
  const t = template.trim() === 'default' ? DEFAULT_PREFIX : template;
  return t.replace(/\{\{\s*(clean\s+)?\.(\w+)\s*\}\}/g, (_m, fn: string | undefined, field: string) => {
    const v = field === 'Hostname' ? vars.Hostname : field === 'Exec' ? vars.Exec : '';
    return fn ? cleaner(v) : v;
  });
}

/**
 * fabio's own `clean` as the push backends (graphite, statsd, flat) use it: lower-case, `.` and `:`
 * → `_`, empty → `_`. Unlike clean() above it keeps `-` and `/`, so names match fabio's exactly
 * (`testservice.www_example_com./.10_1_2_3_12345`).
 */
export function cleanGo(s: string): string {
  if (s === '') return '_';
  return s.replace(/[.:]/g, '_').toLowerCase();
}

/** The default of metrics.names: how fabio names a route target for backends without labels. */
export const DEFAULT_NAMES = '{{clean .Service}}.{{clean .Host}}.{{clean .Path}}.{{clean .TargetURL.Host}}';

/** What a metrics.names template can refer to (fabio passes a struct with a parsed *url.URL). */
type NameVars = { service: string; host: string; path: string; target: string; url: URL | undefined };
const NAME_FIELDS: Record<string, (v: NameVars) => string> = {
  Service: (v) => v.service,
  Host: (v) => v.host,
  Path: (v) => v.path,
  TargetURL: (v) => v.target,
  // Go's url.Host is the authority as written (an explicit :80 stays), WHATWG's URL drops default ports.
  'TargetURL.Host': (v) => /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(v.target)?.[1] ?? '',
  'TargetURL.Hostname': (v) => v.url?.hostname.replace(/^\[|\]$/g, '') ?? '',
  'TargetURL.Port': (v) => v.url?.port ?? '',
  'TargetURL.Scheme': (v) => v.url?.protocol.replace(/:$/, '') ?? '',
  'TargetURL.Path': (v) => v.url?.pathname ?? '',
};

/**
 * Compiles the metrics.names template (the subset of Go text/template fabio's default uses:
 * literal text and `{{.Field}}` / `{{clean .Field}}` actions over Service, Host, Path and
 * TargetURL[.Host|.Hostname|.Port|.Scheme|.Path]). Anything else throws at start-up, where Go's
 * template would fail on the first route.
 */
export function compileNames(
  template: string,
): (service: string, host: string, path: string, target: string) => string {
  const parts: (string | { field: string; clean: boolean })[] = [];
  const re = /\{\{(.*?)\}\}/g;
  let last = 0;
  for (let m = re.exec(template); m !== null; m = re.exec(template)) {
    parts.push(template.slice(last, m.index));
    last = m.index + m[0].length;
    const a = /^\s*(clean\s+)?\.([\w.]+)\s*$/.exec(m[1] ?? '');
    if (!a || NAME_FIELDS[a[2] as string] === undefined) {
      throw new Error(`metrics.names: unsupported template action {{${m[1]}}}`);
    }
    parts.push({ field: a[2] as string, clean: a[1] !== undefined });
  }
  if (template.slice(last).includes('{{')) throw new Error('metrics.names: unclosed action');
  parts.push(template.slice(last));
  // only the URL parts other than Host need a parsed URL
  const needsUrl = parts.some(
    (p) => typeof p !== 'string' && !['Service', 'Host', 'Path', 'TargetURL', 'TargetURL.Host'].includes(p.field),
  );
  return (service, host, path, target) => {
    let url: URL | undefined;
    if (needsUrl) {
      try {
        url = new URL(target);
      } catch {
        url = undefined;
      }
    }
    const v: NameVars = { service, host, path, target, url };
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const s = (NAME_FIELDS[p.field] as (x: typeof v) => string)(v);
        out += p.clean ? cleanGo(s) : s;
      }
    }
    return out;
  };
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
