import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { PassThrough, type Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Client, Dispatcher, Pool } from 'undici';
import { classify, ProxyError } from '../errors.ts';
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

function hasBody(req: Req): boolean {
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
  const body = hasBody(job.req) ? job.req : null;
  let retried = false;
  let finished = false;
  let oneShot: Client | undefined;
  const finish = (status: number, bytes: number, err: ProxyError | undefined) => {
    if (finished) return;
    finished = true;
    oneShot?.close().catch(() => {});
    job.done(status, bytes, err);
  };

  const start = (): void => {
    const bodyStream = body !== null ? pipeBody(body) : null;
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let bytes = 0;
    let sink: Writable | undefined;
    let clientGone = false;
    const onClose = () => {
      if (!finished && !job.res.writableFinished) {
        clientGone = true;
        controller?.abort(new ProxyError('CLIENT_GONE', 'client went away'));
      }
    };
    job.res.once('close', onClose);

    let pendingHead: string[] | undefined;
    let noBody = false;
    /** Writes the response head and sets up the sink (gzip or the response itself). */
    const begin = (c: Dispatcher.DispatchController, out: string[]): void => {
      const res = job.res as ServerResponse;
      const useGzip = job.gzip !== undefined && gzipHead(job, out, noBody);
      try {
        res.writeHead(status, out);
      } catch (e) {
        // Node refuses a header value llhttp let through: the upstream's fault.
        c.abort(new ProxyError('UPSTREAM_BAD_RESPONSE', (e as Error).message, { cause: e }));
        return;
      }
      if (useGzip) {
        sink = gzipSink(
          res,
          (n) => {
            bytes += n;
          },
          () => finish(status, bytes, undefined),
        );
      } else {
        sink = res as unknown as Writable;
        if (job.sse) res.flushHeaders?.();
      }
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (clientGone) c.abort(new ProxyError('CLIENT_GONE', 'client went away'));
      },
      onResponseStart(c, statusCode, headers) {
        if (statusCode < 200) return; // 1xx informational: Node answers 100-continue itself
        status = statusCode;
        // undici keeps or closes its connection itself: the Connection verdict is not needed here.
        const head = responseHead(statusCode, job.req.method === 'HEAD', false, headerPairs(headers), job.sts);
        noBody = head.noBody;
        // Go's ResponseWriter sniffs a missing Content-Type from the first bytes: wait for them.
        if (!head.hasType && !head.noBody) {
          pendingHead = head.headers;
          return;
        }
        begin(c, head.headers);
      },
      onResponseData(c, chunk) {
        if (noBody) return;
        if (pendingHead !== undefined) {
          pendingHead.push('content-type', sniffContentType(chunk));
          const head = pendingHead;
          pendingHead = undefined;
          begin(c, head);
        }
        if (sink === undefined) return;
        if (sink !== (job.res as unknown)) {
          if (!sink.write(chunk)) {
            c.pause();
            sink.once('drain', () => c.resume());
          }
          return;
        }
        bytes += chunk.length;
        const res = job.res as ServerResponse;
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd(c, trailers) {
        job.res.off('close', onClose);
        if (trailers !== undefined && sink === (job.res as unknown)) {
          let any = false;
          for (const _ in trailers) {
            any = true;
            break;
          }
          if (any) (job.res as ServerResponse).addTrailers(trailers as Record<string, string>);
        }
        if (pendingHead !== undefined) {
          // Empty body: nothing to sniff, Go adds no Content-Type either.
          const head = pendingHead;
          pendingHead = undefined;
          begin(c, head);
        }
        if (sink !== undefined && sink !== (job.res as unknown)) {
          sink.end(); // finish() runs on the gzip 'end'
          return;
        }
        job.res.end();
        finish(status, bytes, undefined);
      },
      onResponseError(_c, error) {
        job.res.off('close', onClose);
        const err = classify(error);
        if (clientGone) {
          const gone = new ProxyError('CLIENT_GONE', 'client went away', { cause: error });
          finish(gone.status, bytes, gone);
          return;
        }
        if (status === 0) {
          const code = (error as { code?: string }).code ?? '';
          if (!retried && body === null && IDEMPOTENT.has(job.method) && RETRYABLE.has(code)) {
            retried = true;
            oneShot = job.fresh?.();
            start();
            return;
          }
          finish(job.fail(err), 0, err);
          return;
        }
        if (noBody && sink === (job.res as unknown)) {
          // A 204/304 (or HEAD answer) that announced a length it may not have: undici reports
          // the mismatch, Go ignores the body. The client's answer is complete.
          job.res.end();
          finish(status, bytes, undefined);
          return;
        }
        // Headers already went out: the only honest signal left is a broken connection.
        job.res.destroy();
        finish(status, bytes, err);
      },
    };
    try {
      (oneShot ?? job.pool).dispatch(
        {
          path: job.path,
          method: job.method,
          headers: job.headers,
          body: bodyStream,
          idempotent: body === null && IDEMPOTENT.has(job.method),
        },
        handler,
      );
    } catch (e) {
      job.res.off('close', onClose);
      const err = classify(e);
      finish(job.fail(err), 0, err);
    }
  };
  start();
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

/**
 * The client's body as undici's request body: undici destroys the body stream on failure, and a
 * PassThrough in between keeps the client socket alive so the 502/504 can still be written.
 */
function pipeBody(body: Req): PassThrough {
  const bodyStream = new PassThrough();
  // undici destroys the body with the request error after it dropped its own listeners.
  bodyStream.on('error', () => {});
  body.on('error', (e) => bodyStream.destroy(e));
  body.pipe(bodyStream);
  return bodyStream;
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
