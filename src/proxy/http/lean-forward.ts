import type { ServerResponse } from 'node:http';
import { classify, ProxyError } from '../errors.ts';
import { isToken } from './headers.ts';
import type { LeanConn, LeanExchange, LeanPool } from './lean-pool.ts';
import { responseHead } from './response-head.ts';
import { sniffContentType } from './sniff.ts';

/**
 * The lean HTTP/1.1 path for the common request: GET or HEAD without a body to a plain-HTTP
 * target. The pre-assembled request head is written to a pooled raw socket and the response is
 * parsed here (status line, headers, Content-Length / chunked / until-close framing) and written to
 * the client's ServerResponse with a flat header array. Per request this avoids undici's request
 * object, header object conversions and its WASM parser round trips. Everything else (bodies,
 * https targets, gzip, SSE, HTTP/2 clients, header timeouts) takes forward.ts.
 */

export interface LeanJob {
  readonly pool: LeanPool;
  /** Complete request head (request line, headers, blank line), latin1. */
  readonly head: string;
  readonly isHead: boolean;
  readonly res: ServerResponse;
  /** Strict-Transport-Security value ('' = none). */
  readonly sts: string;
  /** Called exactly once: status written (0 when none) and body bytes sent to the client. */
  readonly done: (status: number, bytes: number, err: ProxyError | undefined) => void;
  /** Error answer for failures before the response started. */
  readonly fail: (err: ProxyError) => number;
}

const MAX_HEAD = 1 << 20;
const MAX_LINE = 8192;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');
const LFCRLF = Buffer.from('\n\r\n');
const BARE_LF = /(^|[^\r])\n/;
const CRLF_OR_LF = /\r?\n/g;

// Parser states.
const S_HEAD = 0;
const S_LEN = 1;
const S_CHUNKSIZE = 2;
const S_CHUNKDATA = 3;
const S_CHUNKEND = 4;
const S_TRAILERS = 5;
const S_EOF = 6;
const S_DONE = 7;

export function leanForward(job: LeanJob): void {
  new Exchange(job).start();
}

class Exchange implements LeanExchange {
  readonly #job: LeanJob;
  #conn: LeanConn | undefined;
  #st: number = S_HEAD;
  #buf: Buffer | undefined;
  #got = false;
  #retried = false;
  #status = 0;
  #bytes = 0;
  #remaining = 0;
  #reuse = true;
  #line = '';
  #pending: string[] | undefined;
  #trailers: Record<string, string> | undefined;
  #ended = false;
  #finished = false;
  #paused = false;

  readonly #onDrain = (): void => {
    this.#paused = false;
    this.#conn?.socket.resume();
  };

  constructor(job: LeanJob) {
    this.#job = job;
  }

  start(): void {
    // `on`, not `once`: removed at the end of the exchange, and #onClientClose runs at most once.
    this.#job.res.on('close', this.#onClientClose);
    this.#send();
  }

  #send(fresh = false): void {
    const c = this.#job.pool.acquire(this, fresh);
    this.#conn = c;
    c.socket.write(this.#job.head, 'latin1');
  }

  readonly #onClientClose = (): void => {
    if (this.#finished || this.#job.res.writableFinished) return;
    this.#finished = true;
    this.#st = S_DONE;
    const c = this.#conn;
    if (c !== undefined) {
      c.exchange = undefined;
      c.socket.destroy();
    }
    const gone = new ProxyError('CLIENT_GONE', 'client went away');
    this.#job.done(gone.status, this.#bytes, gone);
  };

  onData(chunk: Buffer): void {
    this.#got = true;
    let off = 0;
    if (this.#st === S_HEAD) {
      const data = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
      off = this.#head(data);
      if (off < 0 || this.#finished) return;
      chunk = data;
    }
    this.#body(chunk, off);
  }

  /** Parses the response head; returns the body offset, or -1 when more bytes are needed or it failed. */
  #head(data: Buffer): number {
    let start = 0;
    for (;;) {
      // The common head: CRLF line ends only and no control character before the first CRLFCRLF.
      // Nothing can end it earlier then (an earlier `\n\n` or `\n\r\n` holds a bare LF), so one
      // search and one character pass decide it. Anything else takes the general reading below.
      const end4 = data.indexOf(CRLFCRLF, start);
      if (end4 >= 0 && plainHead(data, start, end4)) {
        this.#buf = undefined;
        const r = this.#statusLine(data.toString('latin1', start, end4), data, end4 + 4);
        if (r === -2) {
          start = end4 + 4;
          continue;
        }
        return r;
      }
      // The head ends at the first empty line. Go's reader ends lines at LF and drops one CR before
      // it, so `\n\n` ends a head as `\r\n\r\n` does (RFC 9112 section 2.2 allows it too).
      let end = data.indexOf(CRLFCRLF, start);
      let gap = 4;
      // Only the bytes before a CRLFCRLF can hold an earlier bare-LF end of head.
      const scope = end >= 0 ? data.subarray(0, end + 3) : data;
      const lf = scope.indexOf(LFLF, start);
      if (lf >= 0 && (end < 0 || lf < end)) {
        end = lf;
        gap = 2;
      }
      const lcr = scope.indexOf(LFCRLF, start);
      if (lcr >= 0 && (end < 0 || lcr < end)) {
        end = lcr;
        gap = 3;
      }
      if (end < 0) {
        if (data.length > MAX_HEAD)
          this.#error(Object.assign(new Error('response head too large'), { code: 'HPE_HEADER_OVERFLOW' }));
        else this.#buf = start === 0 ? data : data.subarray(start);
        return -1;
      }
      this.#buf = undefined;
      let text = data.toString('latin1', start, end);
      if (gap !== 4 || BARE_LF.test(text)) {
        if (text.endsWith('\r')) text = text.slice(0, -1);
        text = text.replace(CRLF_OR_LF, '\r\n');
      }
      // Control characters (NUL, bare CR...) in a head are refused as Go's textproto refuses them.
      if (badHeadChar(text)) {
        this.#error(
          Object.assign(new Error('invalid character in response head'), { code: 'HPE_INVALID_HEADER_TOKEN' }),
        );
        return -1;
      }
      const r = this.#statusLine(text, data, end + gap);
      if (r !== -2) return r;
      start = end + gap; // 1xx informational: Node answers 100-continue itself
    }
  }

  /**
   * The status line of a checked head `text` (CRLF line ends) whose body starts at `bodyOff`:
   * the body offset from #respond, -1 on failure, -2 for a 1xx head (the next head follows).
   */
  #statusLine(text: string, data: Buffer, bodyOff: number): number {
    // Status line `HTTP/1.x NNN[ reason]`, checked by char codes (no split, no regexp).
    const d1 = text.charCodeAt(9) - 48;
    const d2 = text.charCodeAt(10) - 48;
    const d3 = text.charCodeAt(11) - 48;
    const ok =
      text.startsWith('HTTP/1.') &&
      text.charCodeAt(8) === 32 &&
      d1 >= 1 &&
      d1 <= 9 &&
      d2 >= 0 &&
      d2 <= 9 &&
      d3 >= 0 &&
      d3 <= 9;
    let sle = text.indexOf('\r\n');
    if (sle < 0) sle = text.length;
    const code = ok && (sle === 12 || text.charCodeAt(12) === 32) ? d1 * 100 + d2 * 10 + d3 : 0;
    if (code === 0) {
      this.#error(Object.assign(new Error('malformed HTTP response'), { code: 'HPE_INVALID_CONSTANT' }));
      return -1;
    }
    if (code < 200) {
      if (code === 101) {
        this.#error(Object.assign(new Error('unexpected protocol switch'), { code: 'HPE_INVALID_CONSTANT' }));
        return -1;
      }
      return -2;
    }
    return this.#respond(code, text.charCodeAt(7) === 48, text, sle + 2, data, bodyOff);
  }

  #respond(status: number, http10: boolean, text: string, pos: number, data: Buffer, bodyOff: number): number {
    const job = this.#job;
    let cl = -1;
    let chunked = false;
    let te = false;
    const pairs: string[] = [];
    // One scan over the header lines: framing facts collected, the pairs kept for the shared
    // response-head rules. // hot path
    while (pos < text.length) {
      let e = text.indexOf('\r\n', pos);
      if (e < 0) e = text.length;
      const c = text.indexOf(':', pos);
      const first = text.charCodeAt(pos);
      if (c <= pos || c > e || first === 32 || first === 9) {
        this.#error(Object.assign(new Error('malformed response header'), { code: 'HPE_INVALID_HEADER_TOKEN' }));
        return -1;
      }
      const name = text.slice(pos, c).toLowerCase();
      if (!isToken(name)) {
        this.#error(Object.assign(new Error('malformed response header'), { code: 'HPE_INVALID_HEADER_TOKEN' }));
        return -1;
      }
      const value = headerValue(text, c + 1, e);
      pos = e + 2;
      if (name === 'content-length') {
        const n = digits(value) ? Number(value) : -2;
        if (n === -2 || (cl >= 0 && cl !== n)) {
          this.#error(Object.assign(new Error('invalid content-length'), { code: 'HPE_UNEXPECTED_CONTENT_LENGTH' }));
          return -1;
        }
        if (cl >= 0) continue; // an identical repeat is one length
        cl = n;
      } else if (name === 'transfer-encoding') {
        te = true;
        chunked = /(^|,)\s*chunked\s*$/i.test(value);
      }
      pairs.push(name, value);
    }
    const head = responseHead(status, job.isHead, http10, pairs, job.sts);
    if (head.close) this.#reuse = false;
    this.#status = status;
    if (head.noBody) this.#st = S_DONE;
    else if (te) this.#st = chunked ? S_CHUNKSIZE : S_EOF;
    else if (cl >= 0) {
      this.#st = cl === 0 ? S_DONE : S_LEN;
      this.#remaining = cl;
    } else this.#st = S_EOF;
    // A non-chunked TE body runs to EOF; a body-less status that announced a length may send it anyway.
    if ((te && !chunked) || (head.noBody && !job.isHead && cl > 0)) this.#reuse = false;
    const out = head.headers;
    // Go's ResponseWriter sniffs a missing Content-Type from the first bytes: wait for them.
    if (!head.hasType && !head.noBody) {
      if (this.#st === S_DONE) this.#writeHead(out);
      else this.#pending = out;
    } else if (!this.#writeHead(out)) return -1;
    if (this.#st === S_DONE) {
      // Bytes after a body-less answer (a 204 with a body): the connection is out of step.
      if (bodyOff < data.length) this.#reuse = false;
      this.#complete();
    }
    return bodyOff;
  }

  #writeHead(out: string[]): boolean {
    // Names and values were checked by this parser (tokens, no control characters): the bare
    // client side skips its own pass over them (BareRes.writeCheckedHead).
    const res = this.#job.res as ServerResponse & { writeCheckedHead?(status: number, flat: string[]): unknown };
    try {
      if (res.writeCheckedHead !== undefined) res.writeCheckedHead(this.#status, out);
      else res.writeHead(this.#status, out);
      return true;
    } catch (e) {
      // Node refuses what the lean parser let through (an invalid header value): the upstream's fault.
      this.#error(new ProxyError('UPSTREAM_BAD_RESPONSE', (e as Error).message, { cause: e }));
      return false;
    }
  }

  #emit(b: Buffer, last: boolean): void {
    if (this.#pending !== undefined) {
      const out = this.#pending;
      this.#pending = undefined;
      out.push('content-type', sniffContentType(b));
      if (!this.#writeHead(out)) return;
    }
    this.#bytes += b.length;
    const res = this.#job.res;
    if (last && this.#trailers === undefined) {
      this.#ended = true;
      res.end(b);
      return;
    }
    if (!res.write(b) && !this.#paused) {
      this.#paused = true;
      (this.#conn as LeanConn).socket.pause();
      res.once('drain', this.#onDrain);
    }
  }

  #body(chunk: Buffer, off: number): void {
    while (off < chunk.length && this.#st !== S_DONE) {
      switch (this.#st) {
        case S_LEN: {
          const n = Math.min(this.#remaining, chunk.length - off);
          this.#remaining -= n;
          const last = this.#remaining === 0;
          this.#emit(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n), last);
          off += n;
          if (last && !this.#finished) {
            if (off < chunk.length) this.#reuse = false;
            this.#complete();
          }
          break;
        }
        case S_EOF:
          this.#emit(off === 0 ? chunk : chunk.subarray(off), false);
          off = chunk.length;
          break;
        case S_CHUNKDATA: {
          const n = Math.min(this.#remaining, chunk.length - off);
          this.#remaining -= n;
          this.#emit(chunk.subarray(off, off + n), false);
          off += n;
          if (this.#remaining === 0) this.#st = S_CHUNKEND;
          break;
        }
        default: {
          const nl = chunk.indexOf(10, off);
          const part = chunk.toString('latin1', off, nl < 0 ? chunk.length : nl);
          if (nl < 0) {
            this.#line += part;
            if (this.#line.length > MAX_LINE)
              this.#error(Object.assign(new Error('chunk line too long'), { code: 'HPE_INVALID_CHUNK_SIZE' }));
            return;
          }
          off = nl + 1;
          let line = this.#line + part;
          this.#line = '';
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (!this.#chunkLine(line)) return;
        }
      }
    }
  }

  /** One line of chunked framing (size line, CRLF after data, or a trailer line). */
  #chunkLine(line: string): boolean {
    if (this.#st === S_CHUNKEND) {
      this.#st = S_CHUNKSIZE;
      return true;
    }
    if (this.#st === S_CHUNKSIZE) {
      const semi = line.indexOf(';');
      const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
        this.#error(Object.assign(new Error('invalid chunk size'), { code: 'HPE_INVALID_CHUNK_SIZE' }));
        return false;
      }
      const size = Number.parseInt(hex, 16);
      this.#remaining = size;
      this.#st = size === 0 ? S_TRAILERS : S_CHUNKDATA;
      return true;
    }
    // S_TRAILERS
    if (line === '') {
      this.#complete();
      return true;
    }
    const c = line.indexOf(':');
    if (c > 0) (this.#trailers ??= {})[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    return true;
  }

  #complete(): void {
    if (this.#finished) return;
    this.#st = S_DONE;
    const job = this.#job;
    const res = job.res;
    res.off('close', this.#onClientClose);
    if (this.#pending !== undefined) {
      // Empty body: nothing to sniff, Go adds no Content-Type either.
      const out = this.#pending;
      this.#pending = undefined;
      if (!this.#writeHead(out)) return;
    }
    const c = this.#conn as LeanConn;
    if (this.#paused) {
      // The response may end before the client drained: the pooled socket must not stay paused.
      this.#paused = false;
      res.off('drain', this.#onDrain);
      c.socket.resume();
    }
    if (this.#reuse) job.pool.release(c);
    else {
      c.exchange = undefined;
      c.socket.destroy();
    }
    if (!this.#ended) {
      if (this.#trailers !== undefined) res.addTrailers(this.#trailers);
      this.#ended = true;
      res.end();
    }
    this.#finished = true;
    job.done(this.#status, this.#bytes, undefined);
  }

  onClose(err: Error | undefined): void {
    if (this.#finished) return;
    if (this.#st === S_EOF && err === undefined) {
      this.#reuse = false;
      this.#complete();
      return;
    }
    // A reused keep-alive connection the upstream closed just now: GET/HEAD are safe to send again,
    // once, on a new connection (another idle one may be just as stale).
    if (this.#st === S_HEAD && !this.#got && !this.#retried && (this.#conn as LeanConn).uses > 0) {
      this.#retried = true;
      this.#send(true);
      return;
    }
    this.#fail(err ?? Object.assign(new Error('upstream closed the connection'), { code: 'UND_ERR_SOCKET' }));
  }

  #error(e: unknown): void {
    const c = this.#conn;
    if (c !== undefined) {
      c.exchange = undefined;
      c.socket.destroy();
    }
    this.#fail(e);
  }

  #fail(e: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    const job = this.#job;
    job.res.off('close', this.#onClientClose);
    const started = job.res.headersSent;
    this.#st = S_DONE;
    const err = classify(e);
    if (!started) {
      job.done(job.fail(err), 0, err);
      return;
    }
    // Headers already went out: the only honest signal left is a broken connection.
    job.res.destroy();
    job.done(this.#status, this.#bytes, err);
  }
}

/**
 * Bytes `from`..`to` have only CRLF line ends and no control character but HTAB: the head needs no
 * rewriting or refusal. Read from the Buffer (typed-array loads are cheaper than charCodeAt).
 */
function plainHead(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = b[i] as number;
    if (c >= 32 ? c !== 127 : c === 9) continue;
    if (c === 13 && i + 1 < to && b[i + 1] === 10) {
      i++;
      continue;
    }
    return false;
  }
  return true;
}

/**
 * A header value between `from` and `to`, as String.prototype.trim() leaves it. The head holds no
 * control character but HTAB here, so the only characters trim() removes are SP, HTAB and NBSP.
 */
function headerValue(text: string, from: number, to: number): string {
  let a = from;
  let b = to;
  while (a < b && (text.charCodeAt(a) === 32 || text.charCodeAt(a) === 9)) a++;
  while (b > a && (text.charCodeAt(b - 1) === 32 || text.charCodeAt(b - 1) === 9)) b--;
  const v = text.slice(a, b);
  return a < b && (text.charCodeAt(a) === 0xa0 || text.charCodeAt(b - 1) === 0xa0) ? v.trim() : v;
}

/** 1 to 15 ASCII digits (a Content-Length Number() reads exactly). */
function digits(v: string): boolean {
  if (v.length === 0 || v.length > 15) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Any control character but HTAB, and a CR that does not end a line (lines end in CRLF here). */
function badHeadChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 32 && c !== 127) continue;
    if (c === 9 || (c === 10 && text.charCodeAt(i - 1) === 13)) continue;
    if (c === 13 && text.charCodeAt(i + 1) === 10) continue;
    return true;
  }
  return false;
}
