import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6, type Socket } from 'node:net';
import type { Logger } from '../log/logger.ts';

/**
 * Where the push backends' lines go: UDP datagrams (statsd_raw, dogstatsd), one TCP connection
 * (graphite plaintext) or a writer (stdout for flat/label). A receiver that is down never blocks
 * or crashes the proxy: UDP sends are fire-and-forget, the graphite connection is re-dialled with
 * backoff and keeps a bounded backlog meanwhile, and each transport logs once when it starts
 * failing and once when it works again.
 */
export interface Sender {
  send(lines: readonly string[]): void;
  close(): void;
}

/** `host:port` or `[v6]:port` → parts; undefined when malformed. */
export function splitAddr(addr: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Lines joined into chunks of at most `max` bytes, split only between lines (statsd datagrams). */
export function chunkLines(lines: readonly string[], max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const l of lines) {
    if (cur !== '' && Buffer.byteLength(cur) + Buffer.byteLength(l) + 1 > max) {
      out.push(cur);
      cur = '';
    }
    cur += `${l}\n`;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/** One "failing / working again" episode per transport: a dead receiver logs once, not every interval. */
class Episode {
  #failing = false;
  readonly log: Logger;
  readonly what: string;
  constructor(log: Logger, what: string) {
    this.log = log;
    this.what = what;
  }
  fail(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    const msg = err instanceof Error ? err.message : String(err);
    this.log.warn(`metrics: ${this.what}: ${msg}; metrics are dropped until it works again`);
  }
  ok(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.log.info(`metrics: ${this.what}: sending again`);
  }
}

/** Datagrams stay under a typical Ethernet MTU, as statsd clients do. */
const DATAGRAM_BYTES = 1400;

export function udpSender(addr: string, what: string, log: Logger): Sender {
  const a = splitAddr(addr);
  if (!a) throw new Error(`metrics: ${what}: invalid address ${JSON.stringify(addr)} (want host:port)`);
  const sock: UdpSocket = createSocket(isIPv6(a.host) ? 'udp6' : 'udp4');
  sock.unref();
  const ep = new Episode(log, `${what} ${addr}`);
  sock.on('error', (e) => ep.fail(e));
  let closed = false;
  return {
    send(lines) {
      if (closed) return;
      for (const d of chunkLines(lines, DATAGRAM_BYTES)) {
        sock.send(d, a.port, a.host, (err) => (err ? ep.fail(err) : ep.ok()));
      }
    },
    close() {
      closed = true;
      sock.close();
    },
  };
}

export interface GraphiteOptions {
  /** First re-dial delay; doubles up to backoffMaxMs. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Bytes kept while the connection is down or not draining; older lines are dropped first. */
  maxBacklogBytes?: number;
  /** Deadline of one dial. */
  connectTimeoutMs?: number;
}

/** graphite plaintext over one TCP connection, dialled lazily and re-dialled with backoff. */
export function graphiteSender(addr: string, log: Logger, o: GraphiteOptions = {}): Sender {
  const a = splitAddr(addr);
  if (!a) throw new Error(`metrics: graphite: invalid address ${JSON.stringify(addr)} (want host:port)`);
  const minBackoff = o.backoffMinMs ?? 500;
  const maxBackoff = o.backoffMaxMs ?? 30_000;
  const maxBacklog = o.maxBacklogBytes ?? 1 << 20;
  const ep = new Episode(log, `graphite ${addr}`);
  let sock: Socket | undefined;
  let connected = false;
  let backoff = minBackoff;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let backlog: string[] = [];
  let backlogBytes = 0;

  const flush = () => {
    if (!sock || !connected || backlog.length === 0) return;
    // A receiver that accepts but does not read must not grow our memory: past the cap, keep the backlog.
    if (sock.writableLength > maxBacklog) return;
    sock.write(backlog.join(''));
    backlog = [];
    backlogBytes = 0;
  };
  const retry = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      dial();
    }, backoff);
    timer.unref();
    backoff = Math.min(backoff * 2, maxBackoff);
  };
  const dial = () => {
    if (closed || sock) return;
    const s = connect({ host: a.host, port: a.port });
    sock = s;
    s.unref();
    s.setNoDelay(true);
    s.setTimeout(o.connectTimeoutMs ?? 10_000, () => {
      if (!connected) s.destroy(new Error(`connect timeout after ${o.connectTimeoutMs ?? 10_000} ms`));
    });
    s.on('connect', () => {
      connected = true;
      s.setTimeout(0);
      backoff = minBackoff;
      ep.ok();
      flush();
    });
    s.on('drain', flush);
    // graphite never answers; anything read is discarded
    s.on('data', () => {});
    s.on('error', (e) => ep.fail(e));
    s.on('close', () => {
      if (sock === s) {
        sock = undefined;
        connected = false;
      }
      if (!closed) {
        ep.fail(new Error('connection closed'));
        retry();
      }
    });
  };

  return {
    send(lines) {
      if (closed || lines.length === 0) return;
      const text = `${lines.join('\n')}\n`;
      backlog.push(text);
      backlogBytes += Buffer.byteLength(text);
      while (backlogBytes > maxBacklog && backlog.length > 1) backlogBytes -= Buffer.byteLength(backlog.shift() ?? '');
      if (!sock && !timer) dial();
      flush();
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      sock?.destroy();
    },
  };
}

/** flat / label: lines to a writer (stdout). */
export function writerSender(write: (text: string) => void): Sender {
  return {
    send(lines) {
      if (lines.length > 0) write(`${lines.join('\n')}\n`);
    },
    close() {},
  };
}
