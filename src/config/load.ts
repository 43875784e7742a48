import { readFileSync } from 'node:fs';
import { localIP } from '../go/local-ip.ts';
import { parseLevel } from '../log/logger.ts';
import { parsePeerTrust } from '../proxy/proxy-protocol.ts';
import { validateAccessLogFormat } from './access-log-format.ts';
import { ConfigError } from './errors.ts';
import { parseArgs } from './flags.ts';
import { KEY_BY_NAME, KEYS, type KeyDef } from './keys.ts';
import { parseKVList } from './kv-list.ts';
import { listenerFromMap, parseListeners } from './listener.ts';
import { type Properties, parseProperties } from './properties.ts';
import { renderSockaddr } from './sockaddr.ts';
import { parseAuthSchemes, parseCertSources } from './sources.ts';
import type { Config } from './types.ts';
import { type RawValue, typedValue } from './values.ts';

export interface LoadOptions {
  /** Reads the -cfg file (tests inject it). */
  readonly readFile?: (path: string) => string;
}

type Env = Readonly<Record<string, string | undefined>>;

const ROUTE_FORMATS = ['delta', 'all', 'detail'];
const METRICS_TARGETS = ['stdout', 'flat', 'label', 'graphite', 'statsd_raw', 'dogstatsd', 'circonus', 'prometheus'];

function readProps(path: string, env: Env, readFile: (p: string) => string): Properties {
  if (/^https?:\/\//i.test(path)) {
    throw new ConfigError(
      `-cfg ${path}: loading the configuration from a URL is not supported by fabio-ts; download it and pass the file`,
    );
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'EACCES'
          ? 'permission denied'
          : (err as Error).message;
    throw new ConfigError(`open ${path}: ${why}`, { cause: err });
  }
  return parseProperties(text, env);
}

/** Env names checked for a key: FABIO_<KEY> then <KEY> ('.' → '_'), compared upper-cased. */
function envNames(def: KeyDef): string[] {
  const base = def.name.replace(/\./g, '_').toUpperCase();
  // Our own keys only answer to the FABIO_ prefix: a bare DEV=1 in someone's shell must not start dev mode.
  return def.fabioTs ? [`FABIO_${base}`] : [`FABIO_${base}`, base];
}

/**
 * Load the configuration: command line > environment > properties file > default, then validate
 * with fabio's messages. Throws ConfigError (exit 1) or ConfigExit (-v / -h, exit 0).
 * `argv` excludes the program name.
 */
export function loadConfig(argv: readonly string[], env: Env, opts: LoadOptions = {}): Config {
  const warnings: string[] = [];
  const args = parseArgs(argv);
  if (args.rest.length > 0) warnings.push(`ignoring command line arguments after the flags: ${args.rest.join(' ')}`);

  const raw = new Map<string, RawValue>();
  for (const [k, v] of args.flags) raw.set(k, { value: v, source: 'flag' });

  const upperEnv = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined) upperEnv.set(k.toUpperCase(), [k, v]);

  const props = args.cfgPath
    ? readProps(args.cfgPath, env, opts.readFile ?? ((p) => readFileSync(p, 'utf8')))
    : undefined;

  for (const def of KEYS) {
    if (raw.has(def.name)) continue;
    const hit = envNames(def)
      .map((n) => upperEnv.get(n))
      .find((e) => e !== undefined);
    if (hit) {
      raw.set(def.name, { value: hit[1], source: `environment variable ${hit[0]}` });
      continue;
    }
    const pv = props?.get(def.name);
    if (pv !== undefined) raw.set(def.name, { value: pv, source: `file ${args.cfgPath}` });
  }

  if (props) {
    for (const key of props.keys) {
      if (KEY_BY_NAME.has(key) || key === 'cfg') continue;
      if (key.startsWith('tracing.')) {
        warnings.push(`${args.cfgPath}: ${key} ignored: tracing was removed in fabio 1.7.0`);
        continue;
      }
      const near = KEYS.find((d) => d.name.toLowerCase() === key.toLowerCase());
      warnings.push(
        `${args.cfgPath}: unknown key ${key} ignored${near ? ` (keys are case-sensitive in the file: did you mean ${near.name}?)` : ''}`,
      );
    }
  }

  const values: Record<string, string | number | boolean> = {};
  const unsupported: string[] = [];
  for (const def of KEYS) {
    const r = raw.get(def.name);
    values[def.name] = typedValue(def, r ?? { value: def.def, source: 'default' });
    if (r && !def.implemented && !def.ignored) unsupported.push(def.name);
  }

  // ---- post-processing, in fabio's order
  if (raw.has('proxy.log.routes'))
    warnings.push("proxy.log.routes has been deprecated. Please use 'log.routes.format' instead");
  if (values['proxy.log.routes'] !== '') values['log.routes.format'] = values['proxy.log.routes'] as string;
  if (!ROUTE_FORMATS.includes(values['log.routes.format'] as string)) {
    warnings.push(`Invalid route format ${JSON.stringify(values['log.routes.format'])}. Using "delta"`);
    values['log.routes.format'] = 'delta';
  }
  if ((values['registry.consul.serviceMonitors'] as number) <= 0) values['registry.consul.serviceMonitors'] = 1;
  values['proxy.localip'] = renderSockaddr(values['proxy.localip'] as string) || localIP();
  values['registry.consul.register.addr'] = renderSockaddr(values['registry.consul.register.addr'] as string);

  const certSources = parseCertSources(values['proxy.cs'] as string);
  const authSchemes = parseAuthSchemes(values['proxy.auth'] as string);

  const uiEntries = parseKVList(values['ui.addr'] as string);
  if (uiEntries.length !== 1) {
    if (uiEntries.length > 1) throw new ConfigError('ui.addr must contain only one listener');
    throw new ConfigError('need listening host:port');
  }
  const ui = listenerFromMap(uiEntries[0] as Map<string, string>, { certSources });
  // fabio registers the admin address unless told otherwise
  if (!raw.has('registry.consul.register.addr')) values['registry.consul.register.addr'] = ui.addr;
  const listeners = Object.freeze(
    parseListeners(values['proxy.addr'] as string, {
      readTimeout: values['proxy.readtimeout'] as number,
      writeTimeout: values['proxy.writetimeout'] as number,
      certSources,
    }),
  );

  const gz = values['proxy.gzip.contenttype'] as string;
  if (gz !== '') {
    try {
      new RegExp(gz);
    } catch (err) {
      throw new ConfigError(`invalid expression for content types: ${(err as Error).message}`);
    }
  }
  const oneOf = (key: string, allowed: string[]) => {
    if (!allowed.includes(values[key] as string)) throw new ConfigError(`invalid ${key}: ${values[key]}`);
  };
  oneOf('proxy.strategy', ['rr', 'rnd']);
  oneOf('proxy.matcher', ['prefix', 'glob', 'iprefix']);
  oneOf('ui.access', ['ro', 'rw']);
  const nrs = values['proxy.noroutestatus'] as number;
  if (nrs < 100 || nrs > 999) throw new ConfigError('proxy.noroutestatus must be between 100 and 999');
  if (values['registry.consul.allowStale'] === true && values['registry.consul.requireConsistent'] === true) {
    throw new ConfigError('registry.consul.allowStale and registry.consul.requireConsistent cannot both be true');
  }

  // Checks fabio makes later in main (printed there as [FATAL] ...).
  const backend = values['registry.backend'] as string;
  if (!['consul', 'static', 'file', 'custom'].includes(backend))
    throw new ConfigError(`Unknown registry backend ${backend}`);
  const accessTarget = values['log.access.target'] as string;
  if (accessTarget !== '' && accessTarget !== 'stdout')
    throw new ConfigError(`Invalid access log target ${accessTarget}`);
  if (accessTarget === 'stdout') {
    try {
      validateAccessLogFormat(values['log.access.format'] as string);
    } catch (err) {
      throw new ConfigError(`Invalid log format: ${(err as Error).message}`);
    }
  }
  for (const t of (values['metrics.target'] as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (t === 'statsd') throw new ConfigError('statsd support has been removed in favor of statsd_raw');
    if (!METRICS_TARGETS.includes(t)) throw new ConfigError(`invalid metrics backend ${t}`);
    if (t !== 'prometheus') unsupported.push(`metrics.target=${t}`);
  }
  try {
    parsePeerTrust(values['proxy.pxytrust'] as string);
  } catch (err) {
    throw new ConfigError(`invalid proxy.pxytrust: ${(err as Error).message}`);
  }
  if ((values['proxy.listener.maxconn'] as number) < 0)
    throw new ConfigError('proxy.listener.maxconn must not be negative');
  const level = parseLevel(values['log.level'] as string);
  if (level === undefined) throw new ConfigError(`invalid log level: ${values['log.level']}`);
  values['log.level'] = level;

  return makeConfig(values, { listeners, ui, certSources, authSchemes, unsupported, warnings });
}

function makeConfig(
  values: Record<string, string | number | boolean>,
  rest: Omit<Config, 'str' | 'num' | 'bool' | 'values'>,
): Config {
  const frozen = Object.freeze({ ...values });
  const get = (key: string) => {
    if (!(key in frozen)) throw new Error(`unknown config key ${key}`);
    return frozen[key] as string | number | boolean;
  };
  return Object.freeze({
    str: (key: string) => String(get(key)),
    num: (key: string) => {
      const v = get(key);
      if (typeof v !== 'number') throw new Error(`config key ${key} is not a number`);
      return v;
    },
    bool: (key: string) => {
      const v = get(key);
      if (typeof v !== 'boolean') throw new Error(`config key ${key} is not a bool`);
      return v;
    },
    values: frozen,
    listeners: rest.listeners,
    ui: rest.ui,
    certSources: rest.certSources,
    authSchemes: rest.authSchemes,
    unsupported: Object.freeze([...new Set(rest.unsupported)]),
    warnings: Object.freeze([...rest.warnings]),
  });
}

/**
 * A Config from key overrides, as if given on the command line (for tests and tools):
 * `testConfig({ 'proxy.addr': '127.0.0.1:0' })`. The environment is not consulted.
 */
export function testConfig(overrides: Readonly<Record<string, string | number | boolean>> = {}): Config {
  return loadConfig(
    Object.entries(overrides).map(([k, v]) => `-${k}=${String(v)}`),
    {},
  );
}

/** registry.consul.addr → scheme and host:port (lower-cased, anything after the authority dropped), as fabio does. */
export function parseScheme(s: string): { scheme: 'http' | 'https'; addr: string } {
  const l = s.toLowerCase();
  let scheme: 'http' | 'https' = 'http';
  let addr = l;
  if (l.startsWith('https://')) {
    scheme = 'https';
    addr = l.slice(8);
  } else if (l.startsWith('http://')) addr = l.slice(7);
  const slash = addr.indexOf('/');
  return { scheme, addr: slash >= 0 ? addr.slice(0, slash) : addr };
}
