import { EventEmitter } from 'node:events';
import { type Server, STATUS_CODES } from 'node:http';
import { Socket } from 'node:net';
import { handleAddr, type RawTcp, shutdownHandle, type TcpHandle, type WriteReq } from '../tcp/raw-handle.ts';
import { type BareHttp, bareHttp, HPE_PAUSED, type LlParser } from './bare-parser.ts';

/**
 * The client side of a plain-HTTP listener on bare libuv handles (docs/design.md, "The HTTP client
 * side on bare handles"). Connections are accepted on the listening handle of the listener's
 * node:http server (its accept callback is replaced, as the bare TCP listeners do), each request
 * head is parsed by Node's own llhttp with the http server's flags and limits (bare-parser.ts), and
 * a body-less request goes into the same handler pipeline as node:http requests through BareReq /
 * BareRes, the subset of IncomingMessage / ServerResponse the pipeline uses. A response head and its
 * small body leave in one write.
 *
 * What it does not serve it hands over, with the whole connection, to the node:http server: any
 * request with a body (Content-Length other than 0, Transfer-Encoding), Upgrade/CONNECT, Expect,
 * anything but HTTP/1.x. The handed-over socket gets the bytes of that request from its first
 * byte, so node:http parses it again with the same parser; body framing (the smuggling surface)
 * is therefore only ever decided by node:http.
 */

/** What one bare listener gives its connections. */
export interface BareOptions {
  readonly raw: RawTcp;
  readonly http: BareHttp;
  /** The listener's node:http server: takes handed-over connections. */
  readonly server: Server;
  readonly onRequest: (req: BareReq, res: BareRes) => void;
  /** The answer (a complete HTTP/1.1 message) to a request head the parser refused (HPE_* code). */
  readonly clientError: (code: string) => string;
  /** node:http's headersTimeout: a request head must be complete this long after its first byte. */
  readonly headersTimeout: number;
  /** node:http's keepAliveTimeout: an idle keep-alive connection is closed after this long. */
  readonly keepAliveTimeout: number;
  /** How often deadlines are checked (node:http's connectionsCheckingInterval). */
  readonly checkInterval: number;
  /** TCP keep-alive initial delay of accepted sockets (the server's keepAliveInitialDelay). */
  readonly tcpKeepAliveMs: number;
}

const HWM = 16 * 1024;
/** Responses up to this size are copied into one buffer with their head (one write). */
const COALESCE = 64 * 1024;
/** Bytes a client may pipeline while a response is in flight before reading stops. */
const MAX_PENDING = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

const NONE = 0;
/** A request head is being waited for: 408 at the deadline. */
const HEAD = 1;
/** Idle between requests (or after the last response): closed silently at the deadline. */
const IDLE = 2;

function noRead(): void {}

/** Connections accepted on bare handles and handed over to node:http, per process (tests, debugging). */
export const bareStats = { accepted: 0, handedOver: 0 };

/** The listener side: accepts, tracks and closes bare connections. */
export class BareFront {
  readonly o: BareOptions;
  readonly conns = new Set<BareConn>();
  closing = false;
  #sweep: NodeJS.Timeout | undefined;
  #drained: (() => void) | undefined;

  constructor(o: BareOptions) {
    this.o = o;
  }

  /**
   * Takes over the accept callback of the server's listening handle. False when the server has no
   * such handle (then node:http keeps accepting).
   */
  attach(): boolean {
    const h = (this.o.server as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
    if (h == null || typeof h.onconnection !== 'function') return false;
    this.#sweep = setInterval(() => this.#check(), this.o.checkInterval);
    this.#sweep.unref();
    h.onconnection = (err: number, client: TcpHandle | undefined) => {
      if (err !== 0 || client === undefined) return;
      if (this.closing) return client.close();
      // node:http sets these per accepted socket (noDelay default true, keepAlive initial delay).
      client.setNoDelay(true);
      client.setKeepAlive(true, Math.floor(this.o.tcpKeepAliveMs / 1000));
      const c = new BareConn(this, client);
      bareStats.accepted++;
      this.conns.add(c);
      c.start();
    };
    return true;
  }

  gone(c: BareConn): void {
    if (this.conns.delete(c) && this.conns.size === 0) this.#drained?.();
  }

  #check(): void {
    const now = Date.now();
    for (const c of this.conns) c.checkDeadline(now);
  }

  /** Stops at once the connections idle between requests; busy ones close after their response. */
  close(): Promise<void> {
    this.closing = true;
    clearInterval(this.#sweep);
    for (const c of this.conns) c.closeIfIdle();
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  destroyAll(): void {
    for (const c of this.conns) c.destroy();
  }
}

/** The request head fields of llhttp's on_headers_complete. */
interface Head {
  readonly major: number;
  readonly minor: number;
  readonly headers: string[];
  readonly method: number;
  readonly url: string;
  readonly upgrade: boolean;
  readonly keepAlive: boolean;
}

/** One accepted client connection. */
export class BareConn {
  readonly #f: BareFront;
  readonly #h: TcpHandle;
  readonly #p: LlParser;
  /** Bytes read and not yet given to the parser (pipelined requests wait here). */
  #pending: Buffer | undefined;
  /** Bytes of the current message already given to the parser (a hand-over replays them). */
  #msg: Buffer[] = [];
  #head: Head | undefined;
  /**
   * The bytes given to the parser hold one whole head and nothing after it: the parser needs no
   * pause after the head (a pause costs an Error object with a captured stack per request).
   */
  #noPause = false;
  /** A second head completed in one no-pause execute (impossible with strict llhttp; refused). */
  #twoHeads = false;
  #partHeaders: string[] | undefined;
  #partUrl = '';
  #res: BareRes | undefined;
  #eof = false;
  #reading = false;
  #pumping = false;
  #closed = false;
  /** The connection ends after the current response (Connection: close, HTTP/1.0, shutdown). */
  #last = false;
  #deadline = 0;
  #kind = NONE;
  /** Response bytes collected in this tick, written together. */
  #out: (string | Buffer)[] = [];
  #outBytes = 0;
  #flushQueued = false;
  /** Bytes of writes the kernel has not taken yet. */
  #inKernel = 0;
  #peer: { address: string; port: number } | undefined;
  #local: { address: string; port: number } | undefined;

  constructor(f: BareFront, h: TcpHandle) {
    this.#f = f;
    this.#h = h;
    const http = f.o.http;
    const p = http.newParser();
    p.initialize(http.REQUEST, {}, http.maxHeaderSize, http.kLenientNone);
    p[http.kOnHeaders] = (headers: string[], url: string) => {
      (this.#partHeaders ??= []).push(...headers);
      this.#partUrl += url;
    };
    p[http.kOnHeadersComplete] = (
      major: number,
      minor: number,
      headers: string[] | undefined,
      method: number,
      url: string | undefined,
      _status: unknown,
      _msg: unknown,
      upgrade: boolean,
      keepAlive: boolean,
    ) => {
      let hs = headers ?? [];
      if (this.#partHeaders !== undefined) {
        hs = this.#partHeaders.concat(hs);
        this.#partHeaders = undefined;
      }
      const u = this.#partUrl + (url ?? '');
      this.#partUrl = '';
      if (this.#head !== undefined) {
        this.#twoHeads = true;
        return HPE_PAUSED;
      }
      this.#head = { major, minor, headers: hs, method, url: u, upgrade, keepAlive };
      return this.#noPause ? 0 : HPE_PAUSED;
    };
    // Bodies never reach this parser (requests with one are handed over before their first byte).
    // kOnBody and kOnMessageComplete stay unset: the binding calls them only when they are
    // functions, and an empty callback per request cost a C++ → JS call (~1.6 % of the main thread).
    this.#p = p;
  }

  get destroyed(): boolean {
    return this.#closed;
  }
  get remoteAddress(): string {
    return (this.#peer ??= handleAddr(this.#h, true)).address;
  }
  get remotePort(): number {
    return (this.#peer ??= handleAddr(this.#h, true)).port;
  }
  get localAddress(): string {
    return (this.#local ??= handleAddr(this.#h, false)).address;
  }
  get localPort(): number {
    return (this.#local ??= handleAddr(this.#h, false)).port;
  }

  start(): void {
    this.#setDeadline(HEAD, this.#f.o.headersTimeout);
    this.#h.onread = this.#onRead;
    this.#readStart();
  }

  #readStart(): void {
    if (this.#reading || this.#closed || this.#eof) return;
    this.#reading = true;
    if (this.#h.readStart() !== 0) this.destroy();
  }

  #readStop(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#h.readStop();
  }

  #setDeadline(kind: number, ms: number): void {
    this.#kind = ms > 0 ? kind : NONE;
    this.#deadline = ms > 0 ? Date.now() + ms : 0;
  }

  checkDeadline(now: number): void {
    if (this.#kind === NONE || now < this.#deadline) return;
    if (this.#kind === HEAD) this.#refuse('ERR_HTTP_REQUEST_TIMEOUT');
    else this.destroy();
  }

  closeIfIdle(): void {
    if (this.#res === undefined) this.destroy();
    else this.#last = true;
  }

  readonly #onRead = (ab: ArrayBuffer | undefined): void => {
    const raw = this.#f.o.raw;
    const n = raw.readBytes();
    if (n > 0 && ab !== undefined) {
      const b = Buffer.from(ab, raw.readOffset(), n);
      if (this.#res === undefined && this.#kind === IDLE) this.#setDeadline(HEAD, this.#f.o.headersTimeout);
      this.#pending = this.#pending === undefined ? b : Buffer.concat([this.#pending, b]);
      if (this.#res === undefined) this.#pump();
      else if (this.#pending.length > MAX_PENDING) this.#readStop();
      return;
    }
    if (n === 0) return;
    this.#readStop();
    if (n !== raw.UV_EOF) return this.destroy();
    // The client's FIN: as node:http (httpAllowHalfOpen off), requests in flight are aborted (their
    // 'close' makes the pipeline answer 499 and drop the upstream exchange) and the connection ends.
    this.#eof = true;
    // A head cut short by the FIN is answered 400 first (node:http's parser.finish() error).
    if (this.#res === undefined && this.#msg.length > 0) this.#refuse('HPE_INVALID_EOF_STATE');
    else this.destroy();
  };

  /** Parses what is pending, one request at a time. */
  #pump(): void {
    // A response finished synchronously inside a dispatch: the loop below goes on by itself.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      this.#pumpLoop();
    } finally {
      this.#pumping = false;
    }
    if (this.#eof && this.#res === undefined) this.destroy();
  }

  #pumpLoop(): void {
    while (this.#res === undefined && this.#pending !== undefined && !this.#closed) {
      const data = this.#pending;
      this.#pending = undefined;
      this.#head = undefined;
      // One head from its first byte, ending exactly where the data ends (the common request in
      // one read): nothing follows it, so it is parsed without the pause. // hot path
      this.#noPause = this.#msg.length === 0 && data.length > 4 && data.indexOf(CRLFCRLF) === data.length - 4;
      // The pause after each head comes back as an Error object: without a stack trace it costs
      // a few µs less per request (it is never thrown or shown).
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      let r: ReturnType<LlParser['execute']>;
      try {
        r = this.#p.execute(data);
      } finally {
        Error.stackTraceLimit = limit;
      }
      if (this.#twoHeads) {
        this.#twoHeads = false;
        return this.#refuse('HPE_INTERNAL');
      }
      let end: number;
      if (typeof r === 'number') {
        if (this.#head === undefined) {
          this.#msg.push(data); // a head still incomplete
          continue;
        }
        // Paused after an Upgrade/CONNECT head (Node's binding reports the position, not the
        // pause), or a no-pause head that ended the data.
        end = r;
      } else {
        if (r.code !== 'HPE_PAUSED' || this.#head === undefined) return this.#refuse(r.code ?? 'HPE_INTERNAL');
        end = r.bytesParsed ?? data.length;
      }
      this.#p.resume();
      const rest = end < data.length ? data.subarray(end) : undefined;
      const head = this.#head;
      this.#head = undefined;
      if (!this.#covered(head)) {
        this.#msg.push(data);
        return this.#handOver();
      }
      this.#msg = [];
      this.#pending = rest;
      this.#dispatch(head);
    }
  }

  /** Whether this path serves the request (else node:http gets the connection). */
  #covered(h: Head): boolean {
    if (h.upgrade || h.major !== 1 || this.#f.o.http.methods[h.method] === undefined) return false;
    const hs = h.headers;
    for (let i = 0; i < hs.length; i += 2) {
      const n = hs[i] as string;
      const l = n.length;
      if (l !== 6 && l !== 14 && l !== 17) continue;
      const low = n.toLowerCase();
      if (low === 'transfer-encoding' || low === 'expect') return false;
      if (low === 'content-length' && hs[i + 1] !== '0') return false;
    }
    return true;
  }

  /** The connection, with the current request's bytes from its first one, goes to node:http. */
  #handOver(): void {
    const f = this.#f;
    const bytes = this.#msg.length === 1 ? (this.#msg[0] as Buffer) : Buffer.concat(this.#msg);
    this.#msg = [];
    this.#readStop();
    this.#closed = true;
    f.gone(this);
    bareStats.handedOver++;
    const server = f.o.server;
    // net.Socket adopts the handle (its documented-for-internal-use `handle` option) and reads on.
    const s = new Socket({ handle: this.#h, readable: true, writable: true, allowHalfOpen: true } as never);
    // As net.Server's own accept does: the server counts the socket (its close() waits for it, and
    // the socket's destroy uncounts it through _server).
    const counted = server as unknown as { _connections?: number };
    if (typeof counted._connections === 'number') {
      counted._connections++;
      Object.assign(s, { server, _server: server });
    } else Object.assign(s, { server });
    if (bytes.length > 0) s.unshift(bytes);
    server.emit('connection', s);
  }

  #dispatch(h: Head): void {
    this.#setDeadline(NONE, 0);
    if (!h.keepAlive || this.#f.closing) this.#last = true;
    const req = new BareReq(this, h, this.#f.o.http);
    const res = new BareRes(this, req, !this.#last, this.#f.o.keepAliveTimeout);
    this.#res = res;
    this.#f.o.onRequest(req, res);
  }

  /** Answers a request the parser refused (or that timed out) the way node:http's listener does, then closes. */
  #refuse(code: string): void {
    if (this.#closed) return;
    this.#pending = undefined;
    this.#setDeadline(NONE, 0);
    this.#readStop();
    this.#res = undefined;
    this.queue(Buffer.from(this.#f.o.clientError(code), 'latin1'));
    this.#flush();
    this.#shutdown();
  }

  /** Collects response bytes; written together at the end of this tick (or by flushNow). */
  queue(b: string | Buffer): void {
    this.#out.push(b);
    this.#outBytes += b.length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(this.#flushTick);
    }
  }

  readonly #flushTick = (): void => {
    this.#flush();
  };

  /** Bytes not yet taken by the kernel (collected plus in flight). */
  get backlog(): number {
    return this.#outBytes + this.#inKernel;
  }

  flushNow(): void {
    this.#flush();
  }

  #flush(): void {
    this.#flushQueued = false;
    const out = this.#out;
    if (out.length === 0 || this.#closed) {
      this.#out = [];
      this.#outBytes = 0;
      return;
    }
    this.#out = [];
    const total = this.#outBytes;
    this.#outBytes = 0;
    if (out.length === 1 || total <= COALESCE) {
      let b: Buffer;
      if (out.length === 1) {
        const x = out[0] as string | Buffer;
        b = typeof x === 'string' ? Buffer.from(x, 'latin1') : x;
      } else {
        b = Buffer.allocUnsafe(total);
        let o = 0;
        for (const x of out) o += typeof x === 'string' ? b.write(x, o, 'latin1') : x.copy(b, o);
      }
      this.#write(b);
    } else for (const x of out) this.#write(typeof x === 'string' ? Buffer.from(x, 'latin1') : x);
  }

  #write(b: Buffer): void {
    if (this.#closed) return;
    const raw = this.#f.o.raw;
    const req = raw.newWrite();
    req.handle = this.#h;
    req.buffer = b;
    req.conn = this;
    req.oncomplete = BareConn.#written;
    const err = this.#h.writeBuffer(req, b);
    if (err !== 0) return this.destroy();
    if (raw.lastWriteAsync()) {
      this.#inKernel += b.length;
      req.bytes = b.length;
    } else this.#afterWrites();
  }

  static readonly #written = function (this: WriteReq, status: number): void {
    const c = this.conn as BareConn;
    c.#inKernel -= this.bytes as number;
    if (status < 0) return c.destroy();
    c.#afterWrites();
  };

  #afterWrites(): void {
    if (this.#inKernel > 0 || this.#outBytes > 0) return;
    this.#res?.drained();
  }

  /** The response was written completely: next request, or close. */
  responseDone(res: BareRes): void {
    if (this.#res !== res || this.#closed) return;
    this.#res = undefined;
    if (this.#last) return this.#shutdown();
    this.#setDeadline(IDLE, this.#f.o.keepAliveTimeout);
    if (this.#pending !== undefined) {
      this.#setDeadline(HEAD, this.#f.o.headersTimeout);
      this.#pump();
    }
    this.#readStart();
  }

  /** Ends the connection after the bytes already written: FIN, then close (bounded by the idle deadline). */
  #shutdown(): void {
    if (this.#closed) return;
    this.#flush();
    this.#setDeadline(IDLE, Math.max(1000, Math.min(this.#f.o.keepAliveTimeout, 5000)));
    if (shutdownHandle(this.#f.o.raw, this.#h, () => this.destroy()) !== 0) this.destroy();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readStop();
    this.#h.onread = noRead;
    this.#h.close();
    this.#f.gone(this);
    const res = this.#res;
    this.#res = undefined;
    res?.connClosed();
  }
}

/** The request of one bare exchange: what the handler pipeline reads of an IncomingMessage. */
export class BareReq {
  readonly method: string;
  readonly url: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  readonly headers: Record<string, string | string[]> = {};
  readonly socket: BareConn;
  readonly complete = true;
  readonly readableEnded = true;

  constructor(c: BareConn, h: Head, http: BareHttp) {
    this.socket = c;
    this.method = http.methods[h.method] as string;
    this.url = h.url;
    this.httpVersionMajor = h.major;
    this.httpVersionMinor = h.minor;
    this.httpVersion = `${h.major}.${h.minor}`;
    this.rawHeaders = h.headers;
    const raw = h.headers;
    const dest = this.headers;
    for (let i = 0; i < raw.length; i += 2) http.addHeaderLine(dest, raw[i] as string, raw[i + 1] as string);
  }

  /** No body and no stream events: listeners are accepted and never called. */
  on(): this {
    return this;
  }
  once(): this {
    return this;
  }
  off(): this {
    return this;
  }
}

const F_DATE = 1;
const F_TRAILER = 2;
const F_LENGTH = 4;

/** Whether header name `n` is `lower` in any case (the pipeline's names are mostly lower-case already). */
function named(n: string, lower: string): boolean {
  return n === lower || (n.length === lower.length && n.toLowerCase() === lower);
}

let kaMs = -1;
let kaText = '';
/** `Connection: keep-alive` and node:http's Keep-Alive line, built once per timeout value. */
function keepAliveLines(ms: number): string {
  if (ms !== kaMs) {
    kaMs = ms;
    kaText = `Connection: keep-alive\r\n${ms > 0 ? `Keep-Alive: timeout=${Math.floor(ms / 1000)}\r\n` : ''}`;
  }
  return kaText;
}

function emitClose(res: BareRes): void {
  res.closed = true;
  res.emit('close');
}

/** Node's header checks (BareRes exists only when bare-parser.ts found them). */
const checks = bareHttp as BareHttp;

let dateSec = 0;
let dateText = '';
/** The Date header value, computed once per second (as node:http caches it). */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSec) {
    dateSec = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/**
 * The response of one bare exchange: what the pipeline calls on a ServerResponse (writeHead, write,
 * end, flushHeaders, addTrailers, destroy, the 'close'/'drain' events), with node:http's framing
 * rules: Content-Length when the whole body is known before the head leaves, else chunked on
 * HTTP/1.1 (close-delimited on HTTP/1.0); no body on HEAD, 1xx, 204 and 304; Date, Connection and
 * Keep-Alive as node:http writes them. Header names and values are checked as node:http checks them
 * (a value it refuses throws here too, and the pipeline maps that to 502).
 */
export class BareRes extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  closed = false;
  readonly #c: BareConn;
  readonly #req: BareReq;
  #keepAlive: boolean;
  readonly #kaTimeout: number;
  /** The head as written by writeHead, before framing headers (sent with the first bytes). */
  #head: string | undefined;
  #hasLength = false;
  /** A Trailer header: the body goes chunked so the trailers can follow (as node:http does). */
  #announced = false;
  /** The head left (or is queued to leave) with its framing headers. */
  #sent = false;
  #hasBody = true;
  #chunked = false;
  #needDrain = false;
  #trailers: string | undefined;
  #bodyParts: (string | Buffer)[] | undefined;
  /** F_* of the head being written (see #add). */
  #flags = 0;
  /** writeCheckedHead is writing: the caller vouches for the header names and values. */
  #checked = false;

  constructor(c: BareConn, req: BareReq, keepAlive: boolean, kaTimeout: number) {
    super();
    this.#c = c;
    this.#req = req;
    this.#keepAlive = keepAlive;
    this.#kaTimeout = kaTimeout;
    if (req.method === 'HEAD') this.#hasBody = false;
  }

  get socket(): BareConn {
    return this.#c;
  }

  writeHead(
    status: number,
    reason?: string | Record<string, string | string[]> | readonly string[],
    headers?: Record<string, string | string[]> | readonly string[],
  ): this {
    if (this.headersSent) return this;
    let phrase: string | undefined;
    if (typeof reason === 'string') phrase = reason;
    else headers = reason;
    if (!Number.isInteger(status) || status < 100 || status > 999)
      throw Object.assign(new RangeError(`Invalid status code: ${status}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
    phrase ??= STATUS_CODES[status] ?? 'unknown';
    let s = `HTTP/1.1 ${status} ${phrase}\r\n`;
    if (checks.invalidHeaderChar(phrase))
      throw Object.assign(new TypeError('Invalid character in statusMessage'), { code: 'ERR_INVALID_CHAR' });
    // Flags are collected in #flags and kept only once every header passed the checks: a head
    // refused half-way (and replaced by the pipeline's 502) must leave nothing of itself behind.
    this.#flags = 0;
    if (Array.isArray(headers)) {
      const flat = headers as readonly (string | readonly string[])[];
      if (flat.length > 0 && Array.isArray(flat[0]))
        for (const pair of flat as readonly (readonly string[])[]) s = this.#add(s, String(pair[0]), String(pair[1]));
      else for (let i = 0; i < flat.length; i += 2) s = this.#add(s, String(flat[i]), String(flat[i + 1]));
    } else if (headers !== undefined) {
      const o = headers as Record<string, string | string[]>;
      for (const k in o) {
        const v = o[k];
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const x of v) s = this.#add(s, k, String(x));
        else s = this.#add(s, k, String(v));
      }
    }
    const flags = this.#flags;
    if ((flags & F_DATE) === 0) s += `Date: ${httpDate()}\r\n`;
    if (status === 204 || status === 304 || status < 200) this.#hasBody = false;
    this.#announced = (flags & F_TRAILER) !== 0;
    this.#hasLength = (flags & F_LENGTH) !== 0;
    this.statusCode = status;
    this.#head = s;
    this.headersSent = true; // as node:http: true once writeHead stored the head
    return this;
  }

  /**
   * writeHead for flat `[name, value, ...]` pairs the caller has already checked as node:http
   * would: every name an RFC 9110 token, no value with a character outside HTAB, 0x20-0x7e and
   * 0x80-0xff. The lean path's response parser refuses any other head before it gets here
   * (lean-forward.ts, isToken and the control-character checks of the head), so the second pass
   * over every character is skipped.
   */
  writeCheckedHead(status: number, flat: readonly string[]): this {
    this.#checked = true;
    try {
      return this.writeHead(status, flat);
    } finally {
      this.#checked = false;
    }
  }

  /** `s` with the header line `n: v` (checked as node:http checks it); framing names set #flags. */
  #add(s: string, n: string, v: string): string {
    if (!this.#checked) {
      if (!checks.isToken(n))
        throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${n}"]`), {
          code: 'ERR_INVALID_HTTP_TOKEN',
        });
      if (checks.invalidHeaderChar(v))
        throw Object.assign(new TypeError(`Invalid character in header content ["${n}"]`), {
          code: 'ERR_INVALID_CHAR',
        });
    }
    switch (n.length) {
      case 4:
        if (named(n, 'date')) this.#flags |= F_DATE;
        break;
      case 7:
        if (named(n, 'trailer')) this.#flags |= F_TRAILER;
        break;
      case 14:
        if (named(n, 'content-length')) this.#flags |= F_LENGTH;
        break;
      case 10:
      case 17:
        // Hop-by-hop framing is this side's business (the pipeline never passes these on).
        if (named(n, 'connection') || named(n, 'transfer-encoding')) return s;
        break;
    }
    return `${s}${n}: ${v}\r\n`;
  }

  /** The head with Connection and framing, decided when the first bytes leave. */
  #finalHead(bodyLength: number | undefined): string {
    let s = this.#head ?? '';
    this.#head = undefined;
    this.#sent = true;
    const http10 = this.#req.httpVersionMinor === 0;
    let length = this.#hasLength;
    if (
      this.#hasBody &&
      !this.#hasLength &&
      bodyLength !== undefined &&
      !this.#announced &&
      this.#trailers === undefined
    ) {
      s += `Content-Length: ${bodyLength}\r\n`;
      length = true;
    }
    const framed = !this.#hasBody || length || !http10;
    if (this.#keepAlive && framed) {
      s += keepAliveLines(this.#kaTimeout);
    } else {
      this.#keepAlive = false;
      s += 'Connection: close\r\n';
    }
    if (this.#hasBody && !length && !http10) {
      s += 'Transfer-Encoding: chunked\r\n';
      this.#chunked = true;
    }
    return `${s}\r\n`;
  }

  #ensureHead(): void {
    if (!this.headersSent) this.writeHead(this.statusCode);
  }

  flushHeaders(): void {
    if (this.#sent || this.destroyed) return;
    this.#ensureHead();
    this.#c.queue(this.#finalHead(undefined));
    this.#c.flushNow();
  }

  write(chunk: string | Buffer): boolean {
    if (this.writableEnded || this.destroyed) return false;
    this.#ensureHead();
    if (!this.#hasBody) return true;
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0) return true;
    if (!this.#sent) {
      // Hold the first bytes: an end() in this tick can still send a Content-Length in one write.
      (this.#bodyParts ??= []).push(b);
      if (this.#bodyParts.length === 1) process.nextTick(() => this.#sendHeld());
      return true;
    }
    this.#send(b);
    return this.#pressure();
  }

  #sendHeld(): void {
    const parts = this.#bodyParts;
    if (parts === undefined || this.#sent || this.destroyed) return;
    this.#bodyParts = undefined;
    this.#c.queue(this.#finalHead(undefined));
    for (const p of parts) this.#send(p as Buffer);
  }

  #send(b: Buffer): void {
    if (this.#chunked) {
      this.#c.queue(`${b.length.toString(16)}\r\n`);
      this.#c.queue(b);
      this.#c.queue('\r\n');
    } else this.#c.queue(b);
  }

  #pressure(): boolean {
    if (this.#c.backlog < HWM) return true;
    this.#needDrain = true;
    return false;
  }

  addTrailers(h: Record<string, string | string[]>): void {
    let s = '';
    for (const k in h) {
      const v = h[k];
      if (v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) {
        if (!checks.isToken(k) || checks.invalidHeaderChar(String(x)))
          throw Object.assign(new TypeError(`Invalid trailer ["${k}"]`), { code: 'ERR_INVALID_CHAR' });
        s += `${k}: ${x}\r\n`;
      }
    }
    this.#trailers = (this.#trailers ?? '') + s;
  }

  end(chunk?: string | Buffer): this {
    if (this.writableEnded || this.destroyed) return this;
    this.#ensureHead();
    const b = chunk === undefined ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.writableEnded = true;
    if (!this.#sent) {
      let parts = this.#bodyParts;
      this.#bodyParts = undefined;
      // A body streamed with write() stays chunked, as node:http and Go's ReverseProxy send it;
      // a body given whole to end() gets a Content-Length. Either way: one write.
      const whole = parts === undefined && this.#hasBody;
      if (b !== undefined && b.length > 0 && this.#hasBody) (parts ??= []).push(b);
      let n = 0;
      if (parts !== undefined) for (const p of parts) n += p.length;
      this.#c.queue(this.#finalHead(whole ? n : undefined));
      if (parts !== undefined) for (const p of parts) this.#send(p as Buffer);
    } else if (b !== undefined && b.length > 0 && this.#hasBody) this.#send(b);
    if (this.#chunked) this.#c.queue(`0\r\n${this.#trailers ?? ''}\r\n`);
    this.#c.flushNow();
    if (!this.#keepAlive) this.#c.closeIfIdle();
    this.#finishWhenFlushed();
    return this;
  }

  #finishWhenFlushed(): void {
    if (this.destroyed || this.writableFinished) return;
    if (this.#c.backlog > 0) {
      this.#needDrain = true;
      return;
    }
    this.writableFinished = true;
    this.emit('finish');
    this.#c.responseDone(this);
    process.nextTick(emitClose, this);
  }

  /** The connection took every byte written so far. */
  drained(): void {
    if (this.writableEnded) return this.#finishWhenFlushed();
    if (!this.#needDrain) return;
    this.#needDrain = false;
    this.emit('drain');
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.#c.destroy();
    return this;
  }

  /** The connection closed under this response. */
  connClosed(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.nextTick(emitClose, this);
  }
}
