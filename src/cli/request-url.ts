/**
 * Splits the request URL given to `route explain` by hand: `new URL()` would drop `:80`/`:443`
 * and re-encode the path, but the tool must show what fabio sees — the Host exactly as written
 * and the path with its percent-encoding.
 */
export interface RequestURL {
  readonly tls: boolean;
  readonly host: string;
  readonly path: string;
  readonly query: string;
}

export function splitRequestURL(raw: string): RequestURL {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s.exec(raw);
  if (m === null) throw new Error(`invalid URL ${JSON.stringify(raw)}: want scheme://host/path`);
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https')
    throw new Error(`invalid URL ${JSON.stringify(raw)}: scheme must be http or https`);
  const path = m[3] === '' ? '/' : (m[3] as string);
  return { tls: scheme === 'https', host: m[2] as string, path, query: m[4] ?? '' };
}
