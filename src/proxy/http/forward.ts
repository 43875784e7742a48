import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { PassThrough, type Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Dispatcher, Pool } from 'undici';
import { classify, ProxyError } from '../errors.ts';
import { responseClosed } from './client-stream.ts';
import { isHopByHopResponse } from './headers.ts';
import { sniffContentType } from './sniff.ts';

export type Req = IncomingMessage | Http2ServerRequest;
export type Res = ServerResponse | Http2ServerResponse;

/** One upstream exchange: everything is decided before; this only moves bytes. */
export interface ForwardJob {
  readonly pool: Pool;
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
  const finish = (status: number, bytes: number, err: ProxyError | undefined) => {
    if (finished) return;
    finished = true;
    job.done(status, bytes, err);
  };

  const start = (): void => {
    // A stream the client already reset gets no upstream request (issue #21, client-stream.ts).
    if (responseClosed(job.res)) {
      finish(499, 0, new ProxyError('CLIENT_GONE', 'client went away'));
      return;
    }
    let bodyStream: PassThrough | null = null;
    if (body !== null) {
      // undici destroys the body stream on failure; a PassThrough keeps the client socket alive
      // so the 502/504 can still be written.
      bodyStream = new PassThrough();
      // undici destroys the body with the request error after it dropped its own listeners.
      bodyStream.on('error', () => {});
      body.on('error', (e) => bodyStream?.destroy(e));
      body.pipe(bodyStream);
    }
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let bytes = 0;
    let sink: Writable | undefined;
    let clientGone = false;
    // Any 'close' before onResponseEnd (which removes this listener) means the client can no longer
    // get the whole answer: abort the upstream request. Not gated on writableFinished: an HTTP/2
    // stream the client reset reports writableFinished = true (issue #21).
    const onClose = () => {
      if (!finished) {
        clientGone = true;
        controller?.abort(new ProxyError('CLIENT_GONE', 'client went away'));
      }
    };
    job.res.once('close', onClose);

    let pendingHead: Record<string, string | string[]> | undefined;
    /** Writes the response head and sets up the sink (gzip or the response itself). */
    const begin = (c: Dispatcher.DispatchController, out: Record<string, string | string[]>): void => {
      const res = job.res as ServerResponse;
      let useGzip = false;
      if (job.gzip !== undefined) {
        const vary = out.vary;
        out.vary = vary === undefined ? 'Accept-Encoding' : `${vary}, Accept-Encoding`;
        const ct = out['content-type'];
        useGzip =
          job.gzipAllowed &&
          out['content-encoding'] === undefined &&
          typeof ct === 'string' &&
          job.gzip.test(ct) &&
          job.req.method !== 'HEAD' &&
          status !== 204 &&
          status !== 304;
        if (useGzip) {
          out['content-encoding'] = 'gzip';
          delete out['content-length'];
        }
      }
      try {
        res.writeHead(status, out);
      } catch (e) {
        c.abort(classify(e));
        return;
      }
      if (useGzip) {
        const gz = createGzip();
        gz.on('data', (d: Buffer) => {
          bytes += d.length;
          if (!res.write(d)) {
            gz.pause();
            res.once('drain', () => gz.resume());
          }
        });
        gz.on('end', () => {
          res.end();
          finish(status, bytes, undefined);
        });
        gz.on('error', () => res.destroy());
        sink = gz;
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
        const out: Record<string, string | string[]> = {};
        let dropped: string[] | undefined;
        const conn = headers.connection;
        if (conn !== undefined)
          dropped = String(conn)
            .toLowerCase()
            .split(',')
            .map((s) => s.trim());
        for (const k in headers) {
          if (isHopByHopResponse(k) || dropped?.includes(k)) continue;
          out[k] = headers[k] as string | string[];
        }
        // Announced trailers are re-announced, as Go's ReverseProxy does (Trailer itself is hop-by-hop).
        const announced = headers.trailer;
        if (announced !== undefined && out['content-length'] === undefined)
          out.trailer = announced as string | string[];
        if (job.sts !== '') out['strict-transport-security'] = job.sts;
        // Go's ResponseWriter sniffs a missing Content-Type from the first bytes: wait for them.
        if (
          out['content-type'] === undefined &&
          statusCode !== 204 &&
          statusCode !== 304 &&
          job.req.method !== 'HEAD'
        ) {
          pendingHead = out;
          return;
        }
        begin(c, out);
      },
      onResponseData(c, chunk) {
        if (pendingHead !== undefined) {
          pendingHead['content-type'] = sniffContentType(chunk);
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
          finish(499, bytes, new ProxyError('CLIENT_GONE', 'client went away', { cause: error }));
          return;
        }
        if (status === 0) {
          const code = (error as { code?: string }).code ?? '';
          if (!retried && body === null && IDEMPOTENT.has(job.method) && RETRYABLE.has(code)) {
            retried = true;
            start();
            return;
          }
          finish(job.fail(err), 0, err);
          return;
        }
        // Headers already went out: the only honest signal left is a broken connection.
        job.res.destroy();
        finish(status, bytes, err);
      },
    };
    try {
      job.pool.dispatch(
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
  // HTTP/2: start on the next turn, so a RST_STREAM that arrived in the same read as the HEADERS
  // (rapid reset) is seen by responseClosed() before any upstream connection is dialled for it.
  if (job.req.httpVersionMajor === 2) setImmediate(start);
  else start();
}
