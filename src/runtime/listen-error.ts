import type { ListenerSpec } from '../config/types.ts';

/** The usual bind errors in the words of the C library (what Go, and so fabio, prints). */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'cannot assign requested address',
};

/**
 * Why a listen failed, without Node's prefix and address: `listen EADDRINUSE: address already in
 * use 127.0.0.1:9999` (one process) and `bind EADDRINUSE 127.0.0.1:9999` (the error a cluster
 * worker gets from the primary) both give `address already in use`.
 */
export function listenReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeJS.ErrnoException;
  if (e.code && REASONS[e.code]) return REASONS[e.code] as string;
  const m = /^\w+ E[A-Z]+:? (.*?)(?: \S*:\d+)?$/.exec(e.message);
  return m?.[1] ? m[1] : e.message;
}

/**
 * The `[FATAL]` text for a listener that could not start: fabio exits with Go's
 * `listen tcp <addr>: bind: <reason>`; we name the listener as written in proxy.addr (or ui.addr)
 * and the reason, e.g. `HTTP proxy cannot listen on :9999: address already in use` (`name` replaces
 * `HTTP proxy`, e.g. for the admin server). The listener
 * is found by the error's port; when none matches (a certificate error, say) the error's own text is
 * the reason and the address is the error's.
 */
export function listenFailure(err: unknown, specs: readonly ListenerSpec[], name?: string): string {
  const e = (err instanceof Error ? err : new Error(String(err))) as NodeJS.ErrnoException & {
    address?: string;
    port?: number;
  };
  const spec = e.port === undefined ? undefined : specs.find((s) => s.port === e.port);
  if (spec) return `${name ?? `${spec.proto.toUpperCase()} proxy`} cannot listen on ${spec.addr}: ${listenReason(e)}`;
  if (e.port !== undefined) return `cannot listen on ${e.address ?? ''}:${e.port}: ${listenReason(e)}`;
  return `cannot start listeners: ${e.message}`;
}
