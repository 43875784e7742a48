/**
 * Typed data-plane errors and the ONE mapping from an error to the HTTP answer (architecture rule 6).
 * Statuses follow fabio section (i): 502 dial/read errors and EOF, 504 timeouts (dial, response
 * header, body), 499 client went away, 500 anything else (e.g. upstream TLS verification).
 */

export type ProxyErrorCode =
  | 'NO_ROUTE'
  | 'ACCESS_DENIED'
  | 'AUTH_FAILED'
  | 'UPSTREAM_UNREACHABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_EOF'
  | 'CLIENT_GONE'
  | 'UPSTREAM_TLS'
  | 'BAD_REMOTE_ADDR'
  | 'INTERNAL';

const STATUS: Record<ProxyErrorCode, number> = {
  NO_ROUTE: 404,
  ACCESS_DENIED: 403,
  AUTH_FAILED: 401,
  UPSTREAM_UNREACHABLE: 502,
  UPSTREAM_TIMEOUT: 504,
  UPSTREAM_EOF: 502,
  CLIENT_GONE: 499,
  UPSTREAM_TLS: 500,
  BAD_REMOTE_ADDR: 500,
  INTERNAL: 500,
};

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly status: number;
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
    this.status = STATUS[code];
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

/** Classifies anything thrown by undici / net / tls into a ProxyError (idempotent). */
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
  if (code.startsWith('HPE_') || code.startsWith('UND_ERR_'))
    return new ProxyError('UPSTREAM_UNREACHABLE', msg, { cause: err });
  return new ProxyError('INTERNAL', msg, { cause: err });
}

export interface ErrorResponse {
  readonly status: number;
  /** Body text ('' = empty body, as fabio answers upstream errors). */
  readonly body: string;
  /** Whether the error goes to the application log as `[ERROR] <message>` (499 does not). */
  readonly log: boolean;
}

/** The one mapping from a data-plane error to the answer the client gets. */
export function toResponse(err: unknown): ErrorResponse {
  const e = classify(err);
  switch (e.code) {
    case 'ACCESS_DENIED':
      return { status: 403, body: 'access denied\n', log: false };
    case 'AUTH_FAILED':
      return { status: 401, body: 'authorization failed\n', log: false };
    case 'BAD_REMOTE_ADDR':
      return { status: 500, body: `${e.message}\n`, log: true };
    case 'CLIENT_GONE':
      return { status: 499, body: '', log: false };
    case 'NO_ROUTE':
      return { status: 404, body: '', log: false };
    default:
      return { status: e.status, body: '', log: true };
  }
}
