/**
 * Raw HTTP/1.1 keep-alive client connections for the cluster benchmarks and tests: one request at
 * a time per connection, Content-Length bodies only (what fabio-ts and a small backend send), and
 * which process on this host accepted the connection (from `ss -tnp`, Linux).
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';

export interface Reply {
  status: number;
  body: string;
}

export class WireConn {
  readonly socket: net.Socket;
  #buf = '';
  #wait: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  readonly ready: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', (e) => this.#fail(e));
    this.socket.on('close', () => this.#fail(new Error('connection closed')));
    this.socket.on('data', (d: string) => {
      this.#buf += d;
      this.#parse();
    });
  }

  #fail(e: Error) {
    const w = this.#wait;
    this.#wait = undefined;
    w?.reject(e);
  }

  #parse() {
    const end = this.#buf.indexOf('\r\n\r\n');
    if (end < 0 || !this.#wait) return;
    const head = this.#buf.slice(0, end);
    const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.#buf.length < end + 4 + len) return;
    const body = this.#buf.slice(end + 4, end + 4 + len);
    this.#buf = this.#buf.slice(end + 4 + len);
    const w = this.#wait;
    this.#wait = undefined;
    w.resolve({ status: Number(head.slice(9, 12)), body });
  }

  /** GET path; rejects if the connection fails or closes before the whole answer. */
  get(path: string, host = 'wire.test', timeoutMs = 5000): Promise<Reply> {
    if (this.#wait) return Promise.reject(new Error('request in flight'));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => this.#fail(new Error('timeout')), timeoutMs);
      this.#wait = {
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    });
  }

  close() {
    this.socket.destroy();
  }
}

/** Map of client port → pid of the process holding the accepted end, for connections to port. */
export function acceptedBy(port: number): Map<number, number> {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  const m = new Map<number, number>();
  for (const line of out.split('\n')) {
    const peer = /\S+:(\d+)\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/.exec(line);
    if (peer && Number(peer[1]) === port) m.set(Number(peer[2]), Number(peer[3]));
  }
  return m;
}
