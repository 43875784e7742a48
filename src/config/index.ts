/** Public API of the config loader (see load.ts for the precedence rules). */

export { localIP } from '../go/local-ip.ts';
export { goQuote } from '../go/quote.ts';
export {
  ACCESS_LOG_COMBINED,
  ACCESS_LOG_COMMON,
  ACCESS_LOG_FIELDS,
  type AccessLogPart,
  parseAccessLogFormat,
  resolveAccessLogFormat,
  validateAccessLogFormat,
} from './access-log-format.ts';
export { configJson } from './config-json.ts';
export { ConfigError, ConfigExit } from './errors.ts';
export { versionLine } from './flags.ts';
export { formatDuration, parseBool, parseDuration, parseGoInt } from './go-values.ts';
export { KEY_BY_NAME, KEYS, type KeyDef, type KeyType } from './keys.ts';
export { parseKVList } from './kv-list.ts';
export {
  type ListenerDefaults,
  parseListener,
  parseListeners,
  parseTLSVersion,
  splitListenAddr,
  TLS_VERSION_NUMBER,
} from './listener.ts';
export {
  CFG_TEXT_ENV,
  CFG_URL_MAX_BYTES,
  CFG_URL_TIMEOUT_MS,
  fetchCfgUrl,
  type LoadOptions,
  loadConfig,
  loadConfigAsync,
  parseScheme,
  testConfig,
} from './load.ts';
export { type Properties, parseProperties } from './properties.ts';
export { propertiesExample } from './properties-example.ts';
export { renderSockaddr } from './sockaddr.ts';
export { parseAuthSchemes, parseCertSources } from './sources.ts';
export type { AuthSchemeSpec, CertSourceSpec, Config, ListenerProto, ListenerSpec } from './types.ts';
export { usage } from './usage.ts';
