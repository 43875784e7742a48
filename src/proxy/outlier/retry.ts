import type { Target } from '../../routes/types.ts';
import type { ProxyError } from '../errors.ts';

/**
 * When an HTTP request may be sent again to another target (issue #15). Safe means the target
 * cannot have acted on it: the connection failed before any request byte was written (any method;
 * a body is read from the client only once a connection is up, forward.ts), or a body-less GET,
 * HEAD or OPTIONS failed before any response byte. A request whose body was read is never repeated.
 */

/** Error codes of a connection that was never established: nothing was sent. */
const CONNECT_FAILED = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The code of the error behind a ProxyError ('' when none). */
function causeCode(err: ProxyError): string {
  const c = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : '';
}

/** Whether the connection itself failed (refused, unreachable, dial timeout): the TCP dial uses it too. */
function connectFailed(code: string): boolean {
  return CONNECT_FAILED.has(code);
}

/**
 * Whether a failed attempt (answered with `err` before any response byte) may be repeated.
 * `bodyStarted`: the request has a body and some of it was read for an upstream (then never).
 */
export function retrySafe(err: ProxyError, method: string, body: boolean, bodyStarted: boolean): boolean {
  if (bodyStarted) return false;
  if (connectFailed(causeCode(err))) return true;
  if (body) return false;
  if (!IDEMPOTENT.has(method)) return false;
  return err.code === 'UPSTREAM_UNREACHABLE' || err.code === 'UPSTREAM_EOF' || err.code === 'UPSTREAM_TIMEOUT';
}

/**
 * Retries allowed for a request routed to `t`: the route option `retries=N` when valid, else
 * proxy.retry.attempts; never more than the other targets of the route.
 */
export function retryLimit(t: Target, attempts: number, targets: number): number {
  const opt = t.opts.retries;
  let n = attempts;
  if (opt !== undefined && /^\d{1,3}$/.test(opt)) n = Number(opt);
  return Math.max(0, Math.min(n, targets - 1));
}
