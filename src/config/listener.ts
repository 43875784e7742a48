import { type HostPort, splitHostPort } from '../go/host-port.ts';
import { goQuote } from '../go/quote.ts';
import { ConfigError } from './errors.ts';
import { parseDuration } from './go-values.ts';
import { parseKVList } from './kv-list.ts';
import { renderSockaddr } from './sockaddr.ts';
import type { CertSourceSpec, ListenerProto, ListenerSpec } from './types.ts';

/** What parseListener needs besides the entry: timeouts from proxy.readtimeout/writetimeout and proxy.cs. */
export interface ListenerDefaults {
  readonly readTimeout?: number;
  readonly writeTimeout?: number;
  readonly certSources?: ReadonlyMap<string, CertSourceSpec>;
}

const PROTOS: readonly string[] = [
  'http',
  'https',
  'tcp',
  'tcp+sni',
  'tcp-dynamic',
  'https+tcp+sni',
  'grpc',
  'grpcs',
  'prometheus',
];
const CS_PROTOS: readonly string[] = ['https', 'tcp', 'tcp-dynamic', 'https+tcp+sni', 'prometheus', 'grpcs'];

const TLS_NAMES: Readonly<Record<string, string>> = {
  tls10: 'TLSv1',
  tls11: 'TLSv1.1',
  tls12: 'TLSv1.2',
  tls13: 'TLSv1.3',
};
const TLS_NUMBERS: Readonly<Record<number, string>> = { 769: 'TLSv1', 770: 'TLSv1.1', 771: 'TLSv1.2', 772: 'TLSv1.3' };
/** fabio's docs show `tlsmin=10`; fabio parses it as protocol number 10. We read it as the version the docs mean. */
const TLS_SHORT: Readonly<Record<number, string>> = { 10: 'TLSv1', 11: 'TLSv1.1', 12: 'TLSv1.2', 13: 'TLSv1.3' };

/** Node SecureVersion → the numeric TLS version fabio shows in /api/config. */
export const TLS_VERSION_NUMBER: Readonly<Record<string, number>> = {
  TLSv1: 0x0301,
  'TLSv1.1': 0x0302,
  'TLSv1.2': 0x0303,
  'TLSv1.3': 0x0304,
};

/** tlsmin/tlsmax value → Node SecureVersion. `ssl30` is rejected as in fabio 1.7.3. */
export function parseTLSVersion(v: string): string {
  const s = v.trim().toLowerCase();
  const named = TLS_NAMES[s];
  if (named) return named;
  if (!/^(0x[0-9a-f]+|0o?[0-7]*|[1-9][0-9]*|0b[01]+)$/.test(s))
    throw new ConfigError(`strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`);
  const n = Number(s.startsWith('0') && /^0[0-7]+$/.test(s) ? `0o${s.slice(1)}` : s);
  if (n > 65536) throw new ConfigError(`${n} out of range: [0..65535]`);
  const ver = TLS_NUMBERS[n] ?? TLS_SHORT[n];
  if (!ver) throw new ConfigError(`unsupported tls version ${s}`);
  return ver;
}

/** A listener address: Go's net.SplitHostPort (src/go/host-port.ts) and a port of 0-65535. */
export function splitListenAddr(addr: string): { host: string; port: number } {
  let hp: HostPort;
  try {
    hp = splitHostPort(addr);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (!/^[0-9]{1,5}$/.test(hp.port) || Number(hp.port) > 65535) throw new ConfigError(`address ${addr}: invalid port`);
  return { host: hp.host, port: Number(hp.port) };
}

const dur = (v: string): number => {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
};

/** One parsed entry (as a map) → ListenerSpec, with fabio's rules and messages (section (d)). */
export function listenerFromMap(cfg: ReadonlyMap<string, string>, defaults: ListenerDefaults = {}): ListenerSpec {
  let addr = '';
  let proto = '';
  let cs = '';
  let readTimeout = defaults.readTimeout ?? 0;
  let writeTimeout = defaults.writeTimeout ?? 0;
  let idleTimeout = 0;
  let strictMatch = false;
  let tlsMin: string | undefined;
  let tlsMax: string | undefined;
  let tlsCiphers: string[] = [];
  let proxyProto = false;
  let proxyProtoTimeout = 0;
  let refresh = 0;
  for (const [k, v] of cfg) {
    switch (k) {
      case '':
      case 'addr':
        addr = v;
        break;
      case 'proto':
        if (!PROTOS.includes(v)) throw new ConfigError(`unknown protocol ${goQuote(v)}`);
        proto = v;
        break;
      case 'rt':
        readTimeout = dur(v);
        break;
      case 'wt':
        writeTimeout = dur(v);
        break;
      case 'it':
        idleTimeout = dur(v);
        break;
      case 'cs':
        if (!defaults.certSources?.has(v)) throw new ConfigError(`unknown certificate source ${goQuote(v)}`);
        cs = v;
        break;
      case 'strictmatch':
        strictMatch = v === 'true';
        break;
      case 'tlsmin':
        tlsMin = parseTLSVersion(v);
        break;
      case 'tlsmax':
        tlsMax = parseTLSVersion(v);
        break;
      case 'tlsciphers':
        tlsCiphers = v
          .split(',')
          .map((c) => c.trim())
          .filter((c) => c !== '');
        break;
      case 'pxyproto':
        proxyProto = v === 'true';
        break;
      case 'pxytimeout':
        proxyProtoTimeout = dur(v);
        break;
      case 'refresh':
        refresh = dur(v);
        break;
      default:
      // fabio ignores unknown options
    }
  }
  // An explicit proto wins over the https default implied by cs= (fabio's map order is random;
  // its intent is clear).
  if (proto === '') proto = cs !== '' ? 'https' : 'http';
  if (addr === '') throw new ConfigError('need listening host:port');
  if (cs !== '' && !CS_PROTOS.includes(proto)) {
    throw new ConfigError(
      "cert source requires proto 'https', 'tcp', 'tcp-dynamic', 'https+tcp+sni', 'prometheus', or 'grpcs'",
    );
  }
  if (cs === '' && (proto === 'https' || proto === 'grpcs' || proto === 'https+tcp+sni')) {
    throw new ConfigError(`proto '${proto}' requires cert source`);
  }
  // vault-pki issues one certificate per name; without strictmatch the first one would serve all.
  if (cs !== '' && defaults.certSources?.get(cs)?.type === 'vault-pki') strictMatch = true;
  if (proxyProto && proxyProtoTimeout === 0) proxyProtoTimeout = 250;
  addr = renderSockaddr(addr);
  const { host, port } = splitListenAddr(addr);
  return Object.freeze({
    addr,
    host,
    port,
    proto: proto as ListenerProto,
    cs,
    readTimeout,
    writeTimeout,
    idleTimeout,
    strictMatch,
    tlsMin,
    tlsMax,
    tlsCiphers: Object.freeze(tlsCiphers),
    proxyProto,
    proxyProtoTimeout,
    refresh,
  });
}

/** Parse one proxy.addr/ui.addr entry such as `:443;cs=name;tlsmin=tls12`. */
export function parseListener(entry: string, defaults: ListenerDefaults = {}): ListenerSpec {
  const maps = parseKVList(entry);
  if (maps.length !== 1)
    throw new ConfigError(
      maps.length === 0 ? 'need listening host:port' : `expected one listener in ${goQuote(entry)}`,
    );
  return listenerFromMap(maps[0] as Map<string, string>, defaults);
}

/** Parse a whole proxy.addr value (comma-separated entries). */
export function parseListeners(value: string, defaults: ListenerDefaults = {}): ListenerSpec[] {
  return parseKVList(value).map((m) => listenerFromMap(m, defaults));
}
