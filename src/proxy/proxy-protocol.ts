import type { Socket } from 'node:net';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import type { Config } from '../config/types.ts';
import { goIp } from '../go/ip.ts';
import type { Logger } from '../log/logger.ts';
import { parseAccessRules } from '../routes/access-rules.ts';

/**
 * Inbound PROXY protocol (HAProxy spec, versions 1 and 2) for listeners with `pxyproto=true`, and the
 * v1 header fabio writes on outbound TCP connections (route option `pxyproto=true`).
 *
 * Like go-proxyproto (which fabio uses), a connection whose first bytes are neither the v1 `PROXY `
 * prefix nor the v2 signature is accepted as a plain connection: the listener takes both.
 * A connection that starts like a header but is malformed is rejected.
 */

export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeaderInfo {
  /** 1 or 2 for a header, 0 for a plain connection without header. */
  readonly version: 0 | 1 | 2;
  /** Absent for v1 UNKNOWN, v2 LOCAL, v2 AF_UNSPEC/AF_UNIX and plain connections. */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
}

export type ParseResult =
  | { readonly done: false }
  | ({ readonly done: true; readonly length: number } & ProxyHeaderInfo)
  | { readonly done?: undefined; readonly error: string };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Spec: a v1 line is at most 107 bytes including CRLF. */
const V1_MAX = 107;
const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;

/** Decimal port 0-65535 without sign or leading junk (v1 forbids leading zeros, go-proxyproto does not). */
function parsePort(s: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** How many leading bytes of buf agree with sig (buf may be shorter than sig). */
function prefixMatches(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return false;
  return true;
}

function parseV1(buf: Buffer): ParseResult {
  const limit = Math.min(buf.length, V1_MAX);
  let eol = -1;
  for (let i = V1_PREFIX.length; i < limit - 1; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      eol = i;
      break;
    }
  }
  if (eol < 0) return buf.length >= V1_MAX ? { error: 'proxy protocol v1: header too long' } : { done: false };
  const line = buf.toString('latin1', 0, eol);
  const parts = line.split(' ');
  const length = eol + 2;
  if (parts[1] === 'UNKNOWN') return { done: true, length, version: 1 };
  if (parts.length !== 6) return { error: `proxy protocol v1: malformed header ${JSON.stringify(line)}` };
  const [, fam, src, dst, sp, dp] = parts as [string, string, string, string, string, string];
  const isIP = fam === 'TCP4' ? isIPv4 : fam === 'TCP6' ? isIPv6 : undefined;
  if (!isIP) return { error: `proxy protocol v1: unsupported protocol ${JSON.stringify(fam)}` };
  const sport = parsePort(sp);
  const dport = parsePort(dp);
  if (!isIP(src) || !isIP(dst) || sport === undefined || dport === undefined) {
    return { error: `proxy protocol v1: invalid address in ${JSON.stringify(line)}` };
  }
  return {
    done: true,
    length,
    version: 1,
    source: { address: unmap(src), port: sport },
    destination: { address: unmap(dst), port: dport },
  };
}

/** Go prints an IPv4-mapped IPv6 address as plain IPv4; so do we (headers, access rules, logs). */
function unmap(a: string): string {
  const m = /^(?:0{0,4}:){1,6}ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (m && isIPv4(m[1]!)) return m[1]!;
  if (!isIPv6(a)) return a;
  try {
    // Canonical text (lower case, zeros compressed), as Go's ParseIP + String prints it.
    return new SocketAddress({ address: a, family: 'ipv6' }).address;
  } catch {
    return a;
  }
}

function ipv6(buf: Buffer, off: number): string {
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = buf[off + i] === 0;
  if (mapped) return `${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(off + 2 * i).toString(16));
  // Compress the longest zero run so the text matches what Node reports for remoteAddress.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function parseV2(buf: Buffer): ParseResult {
  if (buf.length < V2_FIXED) return { done: false };
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { error: `proxy protocol v2: unsupported version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { error: `proxy protocol v2: unsupported command ${cmd}` };
  const famProto = buf[13]!;
  const fam = famProto >> 4;
  const proto = famProto & 0x0f;
  if (fam > 3 || proto > 2)
    return { error: `proxy protocol v2: unsupported family/protocol 0x${famProto.toString(16)}` };
  const bodyLen = buf.readUInt16BE(14);
  const length = V2_FIXED + bodyLen;
  const need = fam === 1 ? 12 : fam === 2 ? 36 : fam === 3 ? 216 : 0;
  if (bodyLen < need) return { error: `proxy protocol v2: address block too short (${bodyLen} < ${need})` };
  if (buf.length < length) return { done: false };
  // LOCAL (health checks by the balancer itself) and UNSPEC/UNIX carry no usable client address;
  // TLVs after the address block are skipped.
  if (cmd === 0 || fam === 0 || fam === 3) return { done: true, length, version: 2 };
  const o = V2_FIXED;
  if (fam === 1) {
    const a = (i: number) => `${buf[i]}.${buf[i + 1]}.${buf[i + 2]}.${buf[i + 3]}`;
    return {
      done: true,
      length,
      version: 2,
      source: { address: a(o), port: buf.readUInt16BE(o + 8) },
      destination: { address: a(o + 4), port: buf.readUInt16BE(o + 10) },
    };
  }
  return {
    done: true,
    length,
    version: 2,
    source: { address: ipv6(buf, o), port: buf.readUInt16BE(o + 32) },
    destination: { address: ipv6(buf, o + 16), port: buf.readUInt16BE(o + 34) },
  };
}

/**
 * Pure parser over the bytes received so far. `{done:false}` = need more bytes; `{done:true,length}` =
 * the header occupies the first `length` bytes (length 0, version 0: no header, a plain connection);
 * `{error}` = the bytes start like a header but are not a valid one. Never throws.
 */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return { done: false };
  if (buf[0] === V1_PREFIX[0]) {
    if (!prefixMatches(buf, V1_PREFIX)) return { done: true, length: 0, version: 0 };
    if (buf.length < V1_PREFIX.length) return { done: false };
    return parseV1(buf);
  }
  if (buf[0] === V2_SIG[0]) {
    if (!prefixMatches(buf, V2_SIG)) return { done: true, length: 0, version: 0 };
    return parseV2(buf);
  }
  return { done: true, length: 0, version: 0 };
}

export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
}

/** A complete PROXY header from a peer outside proxy.pxytrust (already logged by the gate). */
export class UntrustedProxyPeer extends ProxyProtocolError {}

/**
 * proxy.pxytrust: comma-separated CIDRs or addresses (IPv4 and IPv6) whose PROXY header is
 * honoured. Undefined for an empty list (every peer, as fabio and go-proxyproto without a policy).
 * Throws on an invalid item; the CIDR parsing is the access rules' (one owner).
 */
export function parsePeerTrust(list: string): ((ip: string) => boolean) | undefined {
  const items = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return undefined;
  return parseAccessRules({ allow: items.map((i) => `ip:${i}`).join(',') })?.allowed;
}

/**
 * Decides, once a complete PROXY header arrived, whether the peer may send one; a refusal is
 * logged here (one line per connection, the peer's own address, nothing from the header).
 */
export type HeaderGate = (peer: string) => boolean;

/** The gate of a `pxyproto=true` listener from proxy.pxytrust; undefined when every peer is trusted. */
export function headerGate(cfg: Config, log: Logger, proto: string): HeaderGate | undefined {
  const trusted = parsePeerTrust(cfg.str('proxy.pxytrust'));
  if (trusted === undefined) return undefined;
  return (peer) => {
    if (trusted(peer)) return true;
    log.info(`${proto}: PROXY header from untrusted peer ${peer}, connection closed`);
    return false;
  };
}

/**
 * Reads a PROXY header from a fresh socket: consumes exactly the header bytes and unshifts whatever
 * followed them (e.g. the TLS ClientHello) back into the socket, which is left paused. Resolves
 * `{version:0}` for a connection without header. The socket is left without a consumer and not paused,
 * so the bytes wait until the next owner attaches: `http.Server#emit('connection', socket)`,
 * `new tls.TLSSocket(socket, …)` and `socket.on('data')`/`pipe` all work without a resume(). Rejects on a malformed header, on the socket closing
 * first, or when no decision was possible within `timeoutMs`; the caller then destroys the socket.
 * With a `gate` (proxy.pxytrust), a complete header from a peer the gate refuses rejects with
 * UntrustedProxyPeer; a plain connection from that peer is still accepted.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, gate?: HeaderGate): Promise<ProxyHeaderInfo> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | undefined, info?: ProxyHeaderInfo, rest?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Removing the last 'readable' listener puts the stream back to "no consumer yet" (flowing
      // null): bytes wait in the buffer until the next owner attaches 'data' (http.Server) or reads.
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.removeListener('error', onError);
      if (err) return reject(err);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(info!);
    };
    const onReadable = () => {
      while (!settled) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) return;
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        const r = parseProxyHeader(buf);
        if ('error' in r) return finish(new ProxyProtocolError(r.error));
        if (!r.done) continue;
        if (r.version !== 0 && gate !== undefined && !gate(goIp(socket.remoteAddress)))
          return finish(new UntrustedProxyPeer('proxy protocol: header from an untrusted peer'));
        const info: ProxyHeaderInfo =
          r.source && r.destination
            ? { version: r.version, source: r.source, destination: r.destination }
            : { version: r.version };
        return finish(undefined, info, buf.subarray(r.length));
      }
    };
    const onEnd = () => finish(new ProxyProtocolError('proxy protocol: connection closed before header'));
    const onError = (e: Error) => finish(e);
    const timer = setTimeout(
      () => finish(new ProxyProtocolError(`proxy protocol: no header within ${timeoutMs}ms`)),
      timeoutMs,
    );
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

/** Strips the IPv4-mapped prefix so a dual-stack socket's `::ffff:1.2.3.4` is written as TCP4. */
function plainIP(a: string): string {
  return a.startsWith('::ffff:') && isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/**
 * The v1 header fabio writes to an upstream: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`
 * (TCP6 when either address is IPv6, UNKNOWN when an address is missing or invalid).
 */
export function proxyV1Header(src: ProxyAddress, dst: ProxyAddress): string {
  const s = plainIP(src.address ?? '');
  const d = plainIP(dst.address ?? '');
  if (isIPv4(s) && isIPv4(d)) return `PROXY TCP4 ${s} ${d} ${src.port} ${dst.port}\r\n`;
  if (isIP6orMapped(s) && isIP6orMapped(d)) return `PROXY TCP6 ${v6(s)} ${v6(d)} ${src.port} ${dst.port}\r\n`;
  return 'PROXY UNKNOWN\r\n';
}

function isIP6orMapped(a: string): boolean {
  return isIPv6(a) || isIPv4(a);
}

/** Mixed families in one header: write the IPv4 side as IPv4-mapped IPv6. */
function v6(a: string): string {
  return isIPv4(a) ? `::ffff:${a}` : a;
}
