/** Public API of the config loader (see load.ts for the precedence rules). */
export { loadConfig, testConfig, parseScheme, type LoadOptions } from './load.ts';
export { ConfigError, ConfigExit } from './errors.ts';
export { parseListener, parseListeners, parseTLSVersion, splitHostPort, TLS_VERSION_NUMBER, type ListenerDefaults } from './listener.ts';
export { parseCertSources, parseAuthSchemes } from './sources.ts';
export { parseKVList } from './kv-list.ts';
export { parseProperties, type Properties } from './properties.ts';
export { parseDuration, formatDuration, parseBool, parseGoInt, goQuote } from './go-values.ts';
export {
  validateAccessLogFormat,
  parseAccessLogFormat,
  resolveAccessLogFormat,
  ACCESS_LOG_FIELDS,
  ACCESS_LOG_COMMON,
  ACCESS_LOG_COMBINED,
  type AccessLogPart,
} from './access-log-format.ts';
export { renderSockaddr, localIP } from './sockaddr.ts';
export { usage } from './usage.ts';
export { versionLine } from './flags.ts';
export { KEYS, KEY_BY_NAME, type KeyDef, type KeyType } from './keys.ts';
export type { Config, ListenerSpec, CertSourceSpec, AuthSchemeSpec, ListenerProto } from './types.ts';
export { configJson } from './config-json.ts';
export { propertiesExample } from './properties-example.ts';
