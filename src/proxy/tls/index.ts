/** TLS termination library: certificate sources, fabio's certificate selection, server options. */

export type { TlsProfile } from './cert-store.ts';
export { CertStore, ContextSelector, NoCertificatesError, nameIndex, selectCert } from './cert-store.ts';
export { cipherId, cipherIdOf, forwardedTls, opensslCiphers, tlsVersionName } from './ciphers.ts';
export {
  certStoresFromConfig,
  closeSharedCertStores,
  createCertStore,
  effectiveRefresh,
  sharedCertStore,
  UnsupportedCertSourceError,
} from './create-store.ts';
export type { LoadedCert } from './pem-pairs.ts';
export { certNames, makePair, pairPemFiles } from './pem-pairs.ts';
export type { TerminationOptions, TlsTermination } from './termination.ts';
export { createTlsTermination, tlsServerOptions } from './termination.ts';
