import { STATUS_CODES } from 'node:http';

/**
 * Typed data-plane errors and the ONE table of every status fabio-ts itself answers on the HTTP
 * plane (architecture rule 6): the client-side refusals (400, 431), no route, access and auth,
 * upstream failures (fabio section (i): 502 dial/read errors, EOF and malformed answers, 504
 * timeouts, 499 client went away, 500 upstream TLS verification and anything unexpected). The
 * handler, both upstream paths and the listener's parser-error answer all go through here.
 */

export type ProxyErrorCode =
  | 'BAD_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'NO_ROUTE'
  | 'ACCESS_DENIED'
  | 'AUTH_FAILED'
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_EOF'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'CLIENT_GONE'
  | 'CLIENT_TIMEOUT'
  | 'UPSTREAM_TLS'
  | 'INTERNAL';

interface Entry {
  readonly status: number;
  /** Body text ('' = empty body, as fabio answers upstream errors). */
  readonly body: string;
  /** Whether the error goes to the application log as `[ERROR] <message>`. */
  readonly log: boolean;
}

/** The catalogue. NO_ROUTE's status is proxy.noroutestatus (404 when unset), see toResponse. */
const TABLE: Readonly<Record<ProxyErrorCode, Entry>> = {
  BAD_REQUEST: { status: 400, body: '', log: false },
  HEADERS_TOO_LARGE: { status: 431, body: '', log: false },
  CLIENT_TIMEOUT: { status: 408, body: '', log: false },
  NO_ROUTE: { status: 404, body: '', log: false },
  ACCESS_DENIED: { status: 403, body: 'access denied\n', log: false },
  AUTH_FAILED: { status: 401, body: 'authorization failed\n', log: false },
  UPSTREAM_UNREACHABLE: { status: 502, body: '', log: true },
  UPSTREAM_EOF: { status: 502, body: '', log: true },
  UPSTREAM_BAD_RESPONSE: { status: 502, body: '', log: true },
  UPSTREAM_TIMEOUT: { status: 504, body: '', log: true },
  CLIENT_GONE: { status: 499, body: '', log: false },
  UPSTREAM_TLS: { status: 500, body: '', log: true },
  INTERNAL: { status: 500, body: '', log: true },
};

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
    this.status = TABLE[code].status;
  }
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
]);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const EOF_CODES = new Set(['UND_ERR_RESPONSE_EOF', 'HPE_INVALID_EOF_STATE', 'ERR_STREAM_PREMATURE_CLOSE']);
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/;

/**
 * Classifies anything thrown by undici / net / tls / the lean parser into a ProxyError (idempotent).
 * A malformed upstream answer is 502 whichever parser saw it: llhttp codes (`HPE_*`), undici's
 * HTTPParserError (which carries no code) and its framing errors.
 */
export function classify(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  if (code === 'UND_ERR_ABORTED' || e?.name === 'AbortError') return new ProxyError('CLIENT_GONE', msg, { cause: err });
  if (TIMEOUT_CODES.has(code)) return new ProxyError('UPSTREAM_TIMEOUT', msg, { cause: err });
  if (EOF_CODES.has(code)) return new ProxyError('UPSTREAM_EOF', msg, { cause: err });
  if (UNREACHABLE_CODES.has(code)) return new ProxyError('UPSTREAM_UNREACHABLE', msg, { cause: err });
  if (TLS_CODE.test(code)) return new ProxyError('UPSTREAM_TLS', msg, { cause: err });
  if (code.startsWith('HPE_') || code.startsWith('UND_ERR_') || e?.name === 'HTTPParserError')
    return new ProxyError('UPSTREAM_BAD_RESPONSE', msg, { cause: err });
  return new ProxyError('INTERNAL', msg, { cause: err });
}

export interface ErrorResponse {
  readonly status: number;
  /** Body text ('' = empty body). */
  readonly body: string;
  /** Whether the error goes to the application log as `[ERROR] <message>`. */
  readonly log: boolean;
}

/** The one mapping from a data-plane error to the answer the client gets. */
export function toResponse(err: unknown, noRouteStatus = 404): ErrorResponse {
  const e = classify(err);
  const entry = TABLE[e.code];
  if (e.code === 'NO_ROUTE') return { ...entry, status: noRouteStatus > 0 ? noRouteStatus : 404 };
  return entry;
}

/**
 * The reason phrase of a status line: Node's table; 499 (never written to a client that left, but
 * named for completeness) as nginx names it; `Status` for codes nobody names.
 */
export function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? (status === 499 ? 'Client Closed Request' : 'Status');
}

/**
 * A complete `Connection: close` answer for a raw socket (parser errors, refused upgrades): the
 * same status line and framing whatever path produced it.
 */
export function rawAnswer(status: number, headers: Readonly<Record<string, string>> = {}, body = ''): string {
  let s = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (const k in headers) s += `${k}: ${headers[k]}\r\n`;
  return `${s}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
