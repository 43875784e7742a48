import type { SecureContext, SecureVersion, TLSSocketOptions, TlsOptions } from 'node:tls';
import tls from 'node:tls';
import type { ListenerSpec } from '../../config/types.ts';
import type { CertStore, ContextSelector } from './cert-store.ts';
import { opensslCiphers } from './ciphers.ts';

/**
 * TLS termination for one listener over one certificate store: server options (SNICallback with
 * fabio's certificate selection, ALPN, versions, ciphers, client CA), and keeping the default
 * certificate (used for clients without SNI) current across refreshes.
 */

export interface TerminationOptions {
  /** ALPN protocols to offer; default ['h2', 'http/1.1']. Pass [] for raw TCP (proto=tcp with cs=). */
  readonly alpn?: readonly string[];
}

export interface TlsTermination {
  /** Options for tls.createServer / https.createServer / http2.createSecureServer. */
  serverOptions(): TlsOptions;
  /** Options for `new tls.TLSSocket(socket, …)` when wrapping accepted sockets by hand. */
  socketOptions(): TLSSocketOptions;
  /** Keeps a server's default context current when the store changes; returns the unsubscribe function. */
  attach(server: tls.Server): () => void;
}

export function createTlsTermination(
  listener: ListenerSpec,
  store: CertStore,
  opts: TerminationOptions = {},
): TlsTermination {
  const selector: ContextSelector = store.contexts({
    strict: listener.strictMatch,
    minVersion: listener.tlsMin as SecureVersion | undefined,
    maxVersion: listener.tlsMax as SecureVersion | undefined,
    ciphers: opensslCiphers(listener.tlsCiphers),
  });
  const alpn = [...(opts.alpn ?? ['h2', 'http/1.1'])];
  type Done = (err: Error | null, ctx?: SecureContext) => void;
  const answer = (servername: string, cb: Done) => {
    try {
      cb(null, selector.select(servername));
    } catch (e) {
      cb(e as Error);
    }
  };
  const SNICallback = (servername: string, cb: Done) => {
    // vault-pki: the certificate for this name may have to be issued (or re-issued) first
    const wait = store.issuer?.(servername);
    if (wait === undefined) answer(servername, cb);
    else wait.then(() => answer(servername, cb), cb);
  };
  const contextOptions = () => ({ ...selector.baseOptions(), ...selector.defaultCert() });
  const clientAuth = () => store.clientCA.length > 0;
  let defaultCtx: { gen: number; ctx: SecureContext } | undefined;

  return {
    serverOptions: () => ({
      ...contextOptions(),
      SNICallback,
      ...(alpn.length > 0 ? { ALPNProtocols: alpn } : {}),
      requestCert: clientAuth(),
      rejectUnauthorized: clientAuth(),
    }),
    socketOptions: () => {
      if (defaultCtx?.gen !== store.generation) {
        defaultCtx = { gen: store.generation, ctx: tls.createSecureContext(contextOptions()) };
      }
      return {
        isServer: true,
        secureContext: defaultCtx.ctx,
        SNICallback,
        ...(alpn.length > 0 ? { ALPNProtocols: alpn } : {}),
        requestCert: clientAuth(),
        rejectUnauthorized: clientAuth(),
      };
    },
    attach: (server) => store.onChange(() => server.setSecureContext(contextOptions())),
  };
}

/**
 * Server options for a listener with `cs=` (see createTlsTermination). The default certificate is
 * the one current at call time: use createTlsTermination(...).attach(server) to follow refreshes.
 */
export function tlsServerOptions(listener: ListenerSpec, store: CertStore, opts: TerminationOptions = {}): TlsOptions {
  return createTlsTermination(listener, store, opts).serverOptions();
}
