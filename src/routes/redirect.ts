import type { ParsedURL } from './target-url.ts';

/**
 * Redirect URL construction (fabio's BuildRedirectURL, fabio-reference (n)). Without `$path` the
 * target URL is used as is (request path and query dropped). With `$path` the request path (strip
 * then prepend applied) replaces it, a `/` directly before `$path` is dropped, and the request query
 * is appended when the target has none. `$host` becomes the request Host. Empty path → `/`.
 */
export interface RedirectParts {
  readonly scheme: string;
  readonly host: string;
  readonly path: string;
  readonly query: string;
}

export interface RedirectTemplate {
  readonly url: ParsedURL;
  readonly stripPath: string;
  readonly prependPath: string;
}

export function buildRedirect(t: RedirectTemplate, reqHost: string, reqPath: string, reqQuery: string): RedirectParts {
  let host = t.url.host;
  let path = t.url.path;
  let query = t.url.query;
  // `https://x$path`: $path glued to the host
  if (host.endsWith('$path')) {
    host = host.slice(0, -'$path'.length);
    path = `$path${path}`;
  }
  if (host.includes('$host')) host = host.replace('$host', () => reqHost);
  if (path.includes('$path')) {
    path = path.replace('/$path', '$path');
    let p = reqPath;
    if (t.stripPath !== '' && p.startsWith(t.stripPath)) p = p.slice(t.stripPath.length);
    if (t.prependPath !== '') p = t.prependPath + p;
    path = path.replace('$path', () => p);
    if (query === '' && reqQuery !== '') query = reqQuery;
  }
  if (path === '') path = '/';
  return { scheme: t.url.scheme, host, path, query };
}

export function formatRedirect(r: RedirectParts): string {
  const auth = r.scheme !== '' || r.host !== '' ? `${r.scheme === '' ? '' : `${r.scheme}:`}//${r.host}` : '';
  return `${auth}${r.path}${r.query === '' ? '' : `?${r.query}`}`;
}
