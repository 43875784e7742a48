/** TLS termination library: certificate sources, fabio's certificate selection, server options. */
export { CertStore, ContextSelector, NoCertificatesError, selectCert, nameIndex } from './cert-store.ts';
export type { TlsProfile } from './cert-store.ts';
export {
  createCertStore,
  certStoresFromConfig,
  sharedCertStore,
  closeSharedCertStores,
  effectiveRefresh,
  UnsupportedCertSourceError,
} from './create-store.ts';
export { createTlsTermination, tlsServerOptions } from './termination.ts';
export type { TlsTermination, TerminationOptions } from './termination.ts';
export { forwardedTls, tlsVersionName, cipherId, cipherIdOf, opensslCiphers } from './ciphers.ts';
export { certNames, pairPemFiles, makePair } from './pem-pairs.ts';
export type { LoadedCert } from './pem-pairs.ts';
