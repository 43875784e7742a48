/**
 * The TCP data plane: raw TCP (`tcp`), TLS-SNI passthrough (`tcp+sni`), ports opened from the table
 * (`tcp-dynamic`) and SNI passthrough with TLS termination fallback on one port (`https+tcp+sni`).
 * Each start function has the listener signature src/proxy/listeners.ts dispatches on.
 */
import type { ListenerSpec } from '../../config/types.ts';
import type { ProxyDeps, RunningListener } from '../types.ts';

export { type HelloFailure, type HelloResult, MAX_HELLO_BYTES, readClientHello } from './client-hello.ts';
export { dynamicKeys, parseListenKey, startTcpDynamic } from './dynamic-listener.ts';
export { createTcpShared, type TcpShared } from './shared.ts';
export { startSniListener } from './sni-listener.ts';
export { startTcpListener } from './tcp-listener.ts';

/**
 * proto=https+tcp+sni. Loaded on first use so that TCP-only deployments never load the TLS
 * certificate stores and the HTTP handler.
 */
export async function startHttpsTcpSni(spec: ListenerSpec, deps: ProxyDeps): Promise<RunningListener> {
  const m = await import('./https-sni-listener.ts');
  return m.startHttpsTcpSni(spec, deps);
}
