/** Shapes produced by the config loader (src/config). Durations are milliseconds. */

export type ListenerProto =
  | 'http'
  | 'https'
  | 'tcp'
  | 'tcp+sni'
  | 'tcp-dynamic'
  | 'https+tcp+sni'
  | 'grpc'
  | 'grpcs'
  | 'prometheus';

/** One entry of proxy.addr (or ui.addr), validated as fabio does (section (d)). */
export interface ListenerSpec {
  /** Address as written, e.g. ':9999', '127.0.0.1:0', '[::1]:9999'. */
  readonly addr: string;
  /** Host to bind ('' = all interfaces); IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  readonly proto: ListenerProto;
  /** Certificate source name from proxy.cs ('' = none). */
  readonly cs: string;
  readonly readTimeout: number;
  readonly writeTimeout: number;
  readonly idleTimeout: number;
  readonly strictMatch: boolean;
  /** Node SecureVersion strings ('TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3') or undefined. */
  readonly tlsMin: string | undefined;
  readonly tlsMax: string | undefined;
  /** Cipher suites as written (Go names or numbers); mapping to OpenSSL names is the TLS code's job. */
  readonly tlsCiphers: readonly string[];
  readonly proxyProto: boolean;
  readonly proxyProtoTimeout: number;
  /** tcp-dynamic refresh interval. */
  readonly refresh: number;
}

export interface CertSourceSpec {
  readonly name: string;
  readonly type: 'file' | 'path' | 'http' | 'consul' | 'vault' | 'vault-pki';
  readonly cert: string;
  readonly key: string;
  readonly clientCA: string;
  readonly caUpgCN: string;
  readonly refresh: number;
  readonly header: Readonly<Record<string, string>>;
  readonly vaultFetchToken: string;
}

export interface AuthSchemeSpec {
  readonly name: string;
  readonly type: 'basic';
  readonly file: string;
  readonly realm: string;
  readonly refresh: number;
}

/** The loaded, validated configuration. Read it at start-up, never on the hot path. */
export interface Config {
  str(key: string): string;
  /** int, float and duration (milliseconds) keys. */
  num(key: string): number;
  bool(key: string): boolean;
  /** Every key with its effective value (for /api/config and the runtime-config log line). */
  readonly values: Readonly<Record<string, string | number | boolean>>;
  readonly listeners: readonly ListenerSpec[];
  readonly ui: ListenerSpec;
  readonly certSources: ReadonlyMap<string, CertSourceSpec>;
  readonly authSchemes: ReadonlyMap<string, AuthSchemeSpec>;
  /** Keys set by the user that fabio-ts accepts but does not implement (reported once at start-up). */
  readonly unsupported: readonly string[];
  /** Non-fatal problems found while loading (unknown keys in a properties file, deprecated keys). */
  readonly warnings: readonly string[];
}
