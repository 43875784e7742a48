import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Readable, type Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Client, Dispatcher, Pool } from 'undici';
import { classify, ProxyError } from '../errors.ts';
import { responseClosed } from './client-stream.ts';
import { headerPairs, responseHead } from './response-head.ts';
import { sniffContentType } from './sniff.ts';

export type Req = IncomingMessage | Http2ServerRequest;
export type Res = ServerResponse | Http2ServerResponse;

/** One upstream exchange: everything is decided before; this only moves bytes. */
export interface ForwardJob {
  readonly pool: Pool;
  /** A one-shot client on a new connection for the retry (closed by forward when done). */
  readonly fresh?: () => Client;
  readonly method: string;
  /** Escaped path + query sent upstream. */
  readonly path: string;
  readonly headers: string[];
  readonly req: Req;
  readonly res: Res;
  /** Strict-Transport-Security value ('' = none). */
  readonly sts: string;
  /** proxy.gzip.contenttype regexp, undefined = gzip off. */
  readonly gzip: RegExp | undefined;
  /** The client accepts gzip and did not ask for an event stream. */
  readonly gzipAllowed: boolean;
  /** Accept: text/event-stream — send headers at once. */
  readonly sse: boolean;
  /** Called exactly once: status written (0 when none) and body bytes sent to the client. */
  readonly done: (status: number, bytes: number, err: ProxyError | undefined) => void;
  /** Error answer for failures before the response started. */
  readonly fail: (err: ProxyError) => number;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
// A reused keep-alive connection the upstream closed just now fails with one of these.
const RETRYABLE = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export function hasBody(req: Req): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  // HTTP/2 frames the body without either header; END_STREAM on the HEADERS frame means none.
  if (req.httpVersionMajor !== 2) return false;
  return (req as Http2ServerRequest).stream?.endAfterHeaders !== true;
}

/** Streams one request upstream and the answer back, with back-pressure both ways. */
export function forward(job: ForwardJob): void {
  const x = new Exchange(job);
  // HTTP/2: start on the next turn, so a RST_STREAM that arrived in the same read as the HEADERS
  // (rapid reset) is seen by responseClosed() before any upstream connection is dialled for it.
  if (job.req.httpVersionMajor === 2) setImmediate(() => x.attempt());
  else x.attempt();
}

/** One client request: at most two attempts (the retry on a new connection), one `done` call. */
class Exchange {
  readonly job: ForwardJob;
  readonly body: Req | null;
  retried = false;
  finished = false;
  oneShot: Client | undefined;

  constructor(job: ForwardJob) {
    this.job = job;
    this.body = hasBody(job.req) ? job.req : null;
  }

  finish(status: number, bytes: number, err: ProxyError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.oneShot?.close().catch(() => {});
    this.job.done(status, bytes, err);
  }

  /** Whether a failure before any response byte may be sent again (once, on a new connection). */
  mayRetry(error: Error): boolean {
    const code = (error as { code?: string }).code ?? '';
    return !this.retried && this.body === null && IDEMPOTENT.has(this.job.method) && RETRYABLE.has(code);
  }

  attempt(): void {
    const job = this.job;
    // A stream the client already reset gets no upstream request (issue #21, client-stream.ts).
    if (responseClosed(job.res)) {
      const gone = new ProxyError('CLIENT_GONE', 'client went away');
      this.finish(gone.status, 0, gone);
      return;
    }
    const a = new Attempt(this);
    try {
      (this.oneShot ?? job.pool).dispatch(
        {
          path: job.path,
          method: job.method,
          headers: job.headers,
          body: this.body !== null ? pipeBody(this.body) : null,
          idempotent: this.body === null && IDEMPOTENT.has(job.method),
        },
        a,
      );
    } catch (e) {
      a.detach();
      const err = classify(e);
      this.finish(job.fail(err), 0, err);
    }
  }

  retry(): void {
    this.retried = true;
    this.oneShot = this.job.fresh?.();
    this.attempt();
  }
}

/** One upstream attempt: undici's dispatch handler, writing straight into the client's response. */
class Attempt implements Dispatcher.DispatchHandler {
  readonly #x: Exchange;
  readonly #res: ServerResponse;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #bytes = 0;
  #sink: Writable | undefined;
  #clientGone = false;
  #pendingHead: string[] | undefined;
  #noBody = false;

  // Any 'close' before onResponseEnd (which detaches this listener) means the client can no longer
  // get the whole answer: abort the upstream request. Not gated on writableFinished: an HTTP/2
  // stream the client reset reports writableFinished = true (issue #21).
  readonly #onClose = (): void => {
    if (!this.#x.finished) {
      this.#clientGone = true;
      this.#controller?.abort(new ProxyError('CLIENT_GONE', 'client went away'));
    }
  };

  constructor(x: Exchange) {
    this.#x = x;
    this.#res = x.job.res as ServerResponse;
    this.#res.once('close', this.#onClose);
  }

  detach(): void {
    this.#res.off('close', this.#onClose);
  }

  /** Writes the response head and sets up the sink (gzip or the response itself). */
  #begin(c: Dispatcher.DispatchController, out: string[]): void {
    const job = this.#x.job;
    const res = this.#res;
    const useGzip = job.gzip !== undefined && gzipHead(job, out, this.#noBody);
    try {
      res.writeHead(this.#status, out);
    } catch (e) {
      // Node refuses a header value llhttp let through: the upstream's fault.
      c.abort(new ProxyError('UPSTREAM_BAD_RESPONSE', (e as Error).message, { cause: e }));
      return;
    }
    if (useGzip) {
      this.#sink = gzipSink(
        res,
        (n) => {
          this.#bytes += n;
        },
        () => this.#x.finish(this.#status, this.#bytes, undefined),
      );
    } else {
      this.#sink = res as unknown as Writable;
      if (job.sse) res.flushHeaders?.();
    }
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c;
    if (this.#clientGone) c.abort(new ProxyError('CLIENT_GONE', 'client went away'));
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx informational: Node answers 100-continue itself
    this.#status = statusCode;
    const job = this.#x.job;
    // undici keeps or closes its connection itself: the Connection verdict is not needed here.
    const head = responseHead(statusCode, job.req.method === 'HEAD', false, headerPairs(headers), job.sts);
    this.#noBody = head.noBody;
    // Go's ResponseWriter sniffs a missing Content-Type from the first bytes: wait for them.
    if (!head.hasType && !head.noBody) {
      this.#pendingHead = head.headers;
      return;
    }
    this.#begin(c, head.headers);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#noBody) return;
    if (this.#pendingHead !== undefined) {
      const head = this.#pendingHead;
      this.#pendingHead = undefined;
      head.push('content-type', sniffContentType(chunk));
      this.#begin(c, head);
    }
    const sink = this.#sink;
    if (sink === undefined) return;
    if (sink !== (this.#res as unknown)) {
      if (!sink.write(chunk)) {
        c.pause();
        sink.once('drain', () => c.resume());
      }
      return;
    }
    this.#bytes += chunk.length;
    if (!this.#res.write(chunk)) {
      c.pause();
      this.#res.once('drain', () => c.resume());
    }
  }

  onResponseEnd(c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.detach();
    const res = this.#res;
    if (trailers !== undefined && this.#sink === (res as unknown)) {
      let any = false;
      for (const _ in trailers) {
        any = true;
        break;
      }
      if (any) res.addTrailers(trailers as Record<string, string>);
    }
    if (this.#pendingHead !== undefined) {
      // Empty body: nothing to sniff, Go adds no Content-Type either.
      const head = this.#pendingHead;
      this.#pendingHead = undefined;
      this.#begin(c, head);
    }
    if (this.#sink !== undefined && this.#sink !== (res as unknown)) {
      this.#sink.end(); // finish() runs on the gzip 'end'
      return;
    }
    res.end();
    this.#x.finish(this.#status, this.#bytes, undefined);
  }

  onResponseError(_c: Dispatcher.DispatchController, error: Error): void {
    this.detach();
    const x = this.#x;
    const res = this.#res;
    const err = classify(error);
    if (this.#clientGone) {
      const gone = new ProxyError('CLIENT_GONE', 'client went away', { cause: error });
      x.finish(gone.status, this.#bytes, gone);
      return;
    }
    if (!res.headersSent) {
      if (this.#status === 0 && x.mayRetry(error)) return x.retry();
      x.finish(x.job.fail(err), 0, err);
      return;
    }
    if (this.#noBody && this.#sink === (res as unknown)) {
      // A 204/304 (or HEAD answer) that announced a length it may not have: undici reports
      // the mismatch, Go ignores the body. The client's answer is complete.
      res.end();
      x.finish(this.#status, this.#bytes, undefined);
      return;
    }
    // Headers already went out: the only honest signal left is a broken connection.
    res.destroy();
    x.finish(this.#status, this.#bytes, err);
  }
}

/**
 * fabio's gzip rule (proxy.gzip.contenttype): Vary gains Accept-Encoding for every answer; the
 * body is compressed when the client accepts gzip, the upstream did not encode it, the type
 * matches and there is a body. Edits the flat header array; true = compress.
 */
function gzipHead(job: ForwardJob, out: string[], noBody: boolean): boolean {
  let vary = -1;
  let ct: string | undefined;
  let encoded = false;
  for (let i = 0; i < out.length; i += 2) {
    const n = out[i];
    if (n === 'vary') vary = i + 1;
    else if (n === 'content-type') ct = out[i + 1];
    else if (n === 'content-encoding') encoded = true;
  }
  if (vary >= 0) out[vary] = `${out[vary]}, Accept-Encoding`;
  else out.push('vary', 'Accept-Encoding');
  const use = job.gzipAllowed && !encoded && ct !== undefined && (job.gzip as RegExp).test(ct) && !noBody;
  if (!use) return false;
  for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === 'content-length') out.splice(i, 2);
  out.push('content-encoding', 'gzip');
  return true;
}

/** Client requests whose body an upstream attempt has started to read (bytes may have left). */
const bodyRead = new WeakSet<Req>();

/**
 * Whether any attempt has read from the client's body yet. Until then a failed connection has
 * consumed nothing, so the request may go to another target (src/proxy/outlier/retry.ts).
 */
export function bodyStarted(req: Req): boolean {
  return bodyRead.has(req);
}

/**
 * The client's body as undici's request body. It pulls from the client only when undici reads,
 * which it does once the upstream connection is established: a refused connection leaves every
 * byte with the client request, so a retry can send the whole body elsewhere. undici destroys the
 * body stream on failure; this wrapper then only detaches, so the client socket stays alive for
 * the 502/504 (or the retry).
 */
function pipeBody(body: Req): Readable {
  let attached = false;
  const onData = (chunk: Buffer) => {
    if (!out.push(chunk)) body.pause();
  };
  const onEnd = () => out.push(null);
  const onError = (e: Error) => out.destroy(e);
  const detach = () => {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
  };
  const out = new Readable({
    read() {
      if (!attached) {
        attached = true;
        bodyRead.add(body);
        if (body.readableEnded) {
          out.push(null);
          return;
        }
        body.on('data', onData);
        body.on('end', onEnd);
        body.on('error', onError);
      }
      body.resume();
    },
    destroy(err, cb) {
      detach();
      body.pause();
      cb(err);
    },
  });
  // undici destroys the body with the request error after it dropped its own listeners.
  out.on('error', () => {});
  return out;
}

/** A gzip stream whose output goes to the client with back-pressure; `onEnd` after the last byte. */
function gzipSink(res: ServerResponse, onBytes: (n: number) => void, onEnd: () => void): Writable {
  const gz = createGzip();
  gz.on('data', (d: Buffer) => {
    onBytes(d.length);
    if (!res.write(d)) {
      gz.pause();
      res.once('drain', () => gz.resume());
    }
  });
  gz.on('end', () => {
    res.end();
    onEnd();
  });
  gz.on('error', () => res.destroy());
  return gz;
}
