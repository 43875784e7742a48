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
  /** The body of `-cfg http(s)://...`, fetched beforehand by loadConfigAsync (or handed to a worker). */
  readonly cfgText?: string;
  /** Called by loadConfigAsync with the fetched body (main hands it to worker processes). */
  readonly onCfgText?: (text: string) => void;
}

/** Deadline of `-cfg http(s)://...` (connect, headers and body together). */
export const CFG_URL_TIMEOUT_MS = 10_000;
/**
 * Largest properties file accepted from a URL. A real file is a few KiB (the full commented example is
 * 15 KiB); the bound also keeps the body small enough to hand to worker processes in their environment.
 */
export const CFG_URL_MAX_BYTES = 64 * 1024;
/** Environment variable through which the primary hands a fetched -cfg URL body to its workers. */
export const CFG_TEXT_ENV = 'FABIO_TS_CFG_TEXT';

const isUrl = (p: string) => /^https?:\/\//i.test(p);

/**
 * Fetches the properties of `-cfg http(s)://...` as fabio does at start-up, with a deadline and a
 * size cap. Any failure (DNS, refused, non-2xx, timeout, too large) is a ConfigError naming the URL,
 * so fabio-ts exits 1 before anything starts, as fabio fails to start.
 */
export async function fetchCfgUrl(url: string, o: { timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const timeoutMs = o.timeoutMs ?? CFG_URL_TIMEOUT_MS;
  const maxBytes = o.maxBytes ?? CFG_URL_MAX_BYTES;
  const fail = (why: string, cause?: unknown) =>
    new ConfigError(`-cfg ${url}: cannot load the configuration: ${why}`, cause === undefined ? undefined : { cause });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ac.signal, redirect: 'follow' });
    } catch (err) {
      if (ac.signal.aborted) throw fail(`no answer within ${timeoutMs} ms`);
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      throw fail(c?.code ?? c?.message ?? (err as Error).message, err);
    }
    if (res.status < 200 || res.status > 299) {
      await res.body?.cancel().catch(() => {});
      throw fail(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => {});
      throw fail(`larger than ${maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let n = 0;
    try {
      for await (const c of res.body ?? []) {
        n += (c as Uint8Array).byteLength;
        if (n > maxBytes) {
          ac.abort();
          throw fail(`larger than ${maxBytes} bytes`);
        }
        chunks.push(c as Uint8Array);
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (ac.signal.aborted) throw fail(`no answer within ${timeoutMs} ms`);
      throw fail((err as Error).message, err);
    }
    // Java properties are ISO-8859-1 unless told otherwise; fabio's loader reads UTF-8 unless the
    // Content-Type names Latin-1.
    const latin1 = /charset\s*=\s*"?(iso-8859-1|latin1)/i.test(res.headers.get('content-type') ?? '');
    return Buffer.concat(chunks).toString(latin1 ? 'latin1' : 'utf8');
  } finally {
    clearTimeout(timer);
  }
}

/**
 * loadConfig, first fetching `-cfg http(s)://...` when given (the only asynchronous step of loading).
 * Argument errors (-v, -h, unknown flags) come first, as with a file.
 */
export async function loadConfigAsync(argv: readonly string[], env: Env, opts: LoadOptions = {}): Promise<Config> {
  const { cfgPath } = parseArgs(argv);
  if (cfgPath && isUrl(cfgPath) && opts.cfgText === undefined) {
    const cfgText = await fetchCfgUrl(cfgPath);
    const cfg = loadConfig(argv, env, { ...opts, cfgText });
    opts.onCfgText?.(cfgText);
    return cfg;
  }
  return loadConfig(argv, env, opts);
}

type Env = Readonly<Record<string, string | undefined>>;

const ROUTE_FORMATS = ['delta', 'all', 'detail'];
/** The address key each push target needs. */
const METRICS_ADDR: Record<string, string> = {
  graphite: 'metrics.graphite.addr',
  statsd_raw: 'metrics.statsd.addr',
  dogstatsd: 'metrics.dogstatsd.addr',
};
const METRICS_TARGETS = ['stdout', 'flat', 'label', 'graphite', 'statsd_raw', 'dogstatsd', 'circonus', 'prometheus'];

function readProps(path: string, env: Env, readFile: (p: string) => string, cfgText: string | undefined): Properties {
  if (isUrl(path)) {
    // loadConfigAsync fetched it; only a caller that skipped it gets here without the text
    if (cfgText === undefined) throw new ConfigError(`-cfg ${path}: a URL must be fetched first (loadConfigAsync)`);
    return parseProperties(cfgText, env);
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

/** Each key's winning value and where it came from: command line > environment > properties file. */
function rawValues(
  flags: Iterable<[string, string]>,
  env: Env,
  props: Properties | undefined,
  cfgPath: string | undefined,
): Map<string, RawValue> {
  const raw = new Map<string, RawValue>();
  for (const [k, v] of flags) raw.set(k, { value: v, source: 'flag' });

  const upperEnv = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(env)) if (v !== undefined) upperEnv.set(k.toUpperCase(), [k, v]);

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
    if (pv !== undefined) raw.set(def.name, { value: pv, source: `file ${cfgPath}` });
  }
  return raw;
}

/** Warnings for keys of the properties file that fabio does not know. */
function unknownKeyWarnings(props: Properties, cfgPath: string | undefined): string[] {
  const warnings: string[] = [];
  for (const key of props.keys) {
    if (KEY_BY_NAME.has(key) || key === 'cfg') continue;
    if (key.startsWith('tracing.')) {
      warnings.push(`${cfgPath}: ${key} ignored: tracing was removed in fabio 1.7.0`);
      continue;
    }
    const near = KEYS.find((d) => d.name.toLowerCase() === key.toLowerCase());
    warnings.push(
      `${cfgPath}: unknown key ${key} ignored${near ? ` (keys are case-sensitive in the file: did you mean ${near.name}?)` : ''}`,
    );
  }
  return warnings;
}

/** Every key typed (defaults filled in), and the keys set that fabio-ts does not implement. */
function typedValues(raw: Map<string, RawValue>) {
  const values: Record<string, string | number | boolean> = {};
  const unsupported: string[] = [];
  for (const def of KEYS) {
    const r = raw.get(def.name);
    values[def.name] = typedValue(def, r ?? { value: def.def, source: 'default' });
    if (r && !def.implemented && !def.ignored) unsupported.push(def.name);
  }
  return { values, unsupported };
}

/** fabio's validation of the values, in its order; metrics targets fabio-ts lacks go to `unsupported`. */
function checkValues(values: Record<string, string | number | boolean>, unsupported: string[]): void {
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
  oneOf('proxy.strategy', ['rr', 'rnd', 'p2c']);
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
    if (t === 'circonus') unsupported.push(`metrics.target=${t}`);
    const addrKey = METRICS_ADDR[t];
    // fabio fails to start when it cannot resolve the address; an empty one would send nowhere
    if (addrKey !== undefined && !/^(\[[^\]]+\]|[^:\s]*):\d{1,5}$/.test(values[addrKey] as string)) {
      throw new ConfigError(
        `${addrKey} must be host:port for metrics.target=${t}, got ${JSON.stringify(values[addrKey])}`,
      );
    }
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

  const props = args.cfgPath
    ? readProps(args.cfgPath, env, opts.readFile ?? ((p) => readFileSync(p, 'utf8')), opts.cfgText)
    : undefined;
  const raw = rawValues(args.flags, env, props, args.cfgPath);
  if (props) warnings.push(...unknownKeyWarnings(props, args.cfgPath));
  const { values, unsupported } = typedValues(raw);

  // ---- post-processing, in fabio's order
  if (raw.has('proxy.log.routes'))
    warnings.push("proxy.log.routes has been deprecated. Please use 'log.routes.format' instead");
  if (values['proxy.log.routes'] !== '') values['log.routes.format'] = values['proxy.log.routes'] as string;
  if (!ROUTE_FORMATS.includes(values['log.routes.format'] as string)) {
    warnings.push(`Invalid route format ${JSON.stringify(values['log.routes.format'])}. Using "delta"`);
    values['log.routes.format'] = 'delta';
  }
  if ((values['registry.consul.serviceMonitors'] as number) <= 0) values['registry.consul.serviceMonitors'] = 1;
  // fabio auto-detects the address as the key's DEFAULT: `-proxy.localip=` set empty stays empty (no `by=`)
  values['proxy.localip'] = raw.has('proxy.localip') ? renderSockaddr(values['proxy.localip'] as string) : localIP();
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

  checkValues(values, unsupported);

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
