import { isHopByHopResponse } from './headers.ts';

/**
 * The response head the client gets, decided once for both upstream paths (the lean parser and
 * undici hand over the upstream's status and header pairs; only how bytes move differs):
 * hop-by-hop headers and the ones the upstream's Connection names are dropped, announced trailers
 * are re-announced (as Go's ReverseProxy does), Strict-Transport-Security is added, and a status
 * that carries no content (1xx, 204, 304, or any answer to HEAD) is marked body-less. A 204 loses
 * any Content-Length (RFC 9110 section 8.6: there is no content to measure).
 */
export interface ResponseHead {
  /** Flat `[name, value, ...]`, lower-case names, ready for `writeHead`. */
  readonly headers: string[];
  /** No body goes to the client whatever the upstream sends. */
  readonly noBody: boolean;
  /** A Content-Type is present (else Go sniffs one from the first body bytes). */
  readonly hasType: boolean;
  /** The upstream asked to close the connection (Connection: close or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
}

/**
 * @param pairs upstream header pairs, names lower-case (framing headers included; only
 *   Content-Length survives, Transfer-Encoding is hop-by-hop).
 */
export function responseHead(
  status: number,
  isHead: boolean,
  http10: boolean,
  pairs: readonly string[],
  sts: string,
): ResponseHead {
  let conn: string | undefined;
  let trailer: string | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    const n = pairs[i] as string;
    if (n === 'connection') conn = conn === undefined ? pairs[i + 1] : `${conn}, ${pairs[i + 1]}`;
    else if (n === 'trailer') trailer = trailer === undefined ? pairs[i + 1] : `${trailer}, ${pairs[i + 1]}`;
  }
  let close = http10;
  let named: string[] | undefined;
  if (conn !== undefined) {
    named = conn
      .toLowerCase()
      .split(',')
      .map((s) => s.trim());
    if (named.includes('close')) close = true;
    else if (http10 && named.includes('keep-alive')) close = false;
  }
  const noBody = isHead || status < 200 || status === 204 || status === 304;
  const out: string[] = [];
  let hasType = false;
  let hasLength = false;
  // One pass: end-to-end headers copied. // hot path
  for (let i = 0; i < pairs.length; i += 2) {
    const n = pairs[i] as string;
    if (isHopByHopResponse(n) || named?.includes(n)) continue;
    if (n === 'content-length') {
      if (status === 204 || status < 200) continue;
      hasLength = true;
    } else if (n === 'content-type') hasType = true;
    out.push(n, pairs[i + 1] as string);
  }
  if (trailer !== undefined && !hasLength) out.push('trailer', trailer);
  if (sts !== '') out.push('strict-transport-security', sts);
  return { headers: out, noBody, hasType, close };
}

/** undici's header object as the flat pairs responseHead takes (arrays = repeated headers). */
export function headerPairs(h: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(k, v);
    else for (const x of v) out.push(k, x);
  }
  return out;
}
