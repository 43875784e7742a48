import type { IncomingMessage, ServerResponse } from 'node:http';

/** Small response helpers shared by the admin handlers. */

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** No inline script or style anywhere: all code is in /assets. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function base(res: ServerResponse, status: number, type: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
}

/** Go's http.Error: text/plain, message plus newline. */
export function sendError(res: ServerResponse, status: number, msg: string): void {
  base(res, status, 'text/plain; charset=utf-8');
  res.end(`${msg}\n`);
}

export function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  base(res, status, type);
  res.end(body);
}

export function sendHtml(res: ServerResponse, body: string): void {
  base(res, 200, 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

/**
 * JSON as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped (so a tag holding
 * `</script>` stays inert even if someone embeds the output in HTML), optional 4-space indent.
 */
function goJson(value: unknown, pretty: boolean): string {
  const s = JSON.stringify(value, null, pretty ? 4 : undefined) ?? 'null';
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, pretty = false): void {
  base(res, status, 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`${goJson(value, pretty)}\n`);
}

/** A request body over the endpoint's limit: answered 413, never a dropped connection. */
export class BodyTooLarge extends Error {
  readonly status = 413;
  constructor(limit: number) {
    super(`request body over ${limit} bytes`);
  }
}

/**
 * Past this many bytes an oversized body is no longer drained: 413 with `Connection: close` at
 * once. Below it the rest of the body is read and dropped first, so the client, still sending,
 * reads the 413 instead of a reset connection.
 */
const DRAIN_LIMIT = 16 << 20;

/**
 * Reads a request body up to `limit` bytes. Beyond that it rejects with BodyTooLarge once the
 * body has been drained (see DRAIN_LIMIT); `Content-Length` over the limit rejects at once.
 */
export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > DRAIN_LIMIT) {
      reject(new BodyTooLarge(limit));
      return;
    }
    let over = declared > limit;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) over = true;
      if (over) {
        chunks.length = 0;
        if (n > DRAIN_LIMIT) {
          req.pause();
          reject(new BodyTooLarge(limit));
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => (over ? reject(new BodyTooLarge(limit)) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

/** The answer to a body read that failed: 413 for an oversized body (closing when not drained), else 400. */
export function sendBodyError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (err instanceof BodyTooLarge) {
    if (!req.complete) res.setHeader('Connection', 'close');
    return sendError(res, 413, 'request body too large');
  }
  sendError(res, 400, 'bad request');
}

/** 405 with the Allow header (RFC 9110 section 15.5.6). */
export function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendError(res, 405, 'not allowed');
}

export function isJsonContentType(req: IncomingMessage): boolean {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return ct === 'application/json';
}

/**
 * A write must come from our own pages or from a non-browser client: browsers send
 * Sec-Fetch-Site and Origin, command-line clients send neither.
 */
export function isSameOrigin(req: IncomingMessage, tls: boolean): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host ?? '';
  return origin === `${tls ? 'https' : 'http'}://${host}`;
}
