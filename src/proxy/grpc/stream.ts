import http2, {
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { clip } from '../../log/clip.ts';
import type { Logger } from '../../log/logger.ts';
import type { Metrics } from '../../metrics/types.ts';
import { traceLines } from '../../routes/index.ts';
import type { TableStore } from '../../routes/table-store.ts';
import type { LookupResult } from '../../routes/types.ts';
import { FrameMeter } from './frame-meter.ts';
import { codeName, encodeMessage, GrpcCode, parseStatus } from './status.ts';
import { parseGrpcTimeout } from './timeout.ts';
import type { UpstreamPool } from './upstream-pool.ts';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/** What one gRPC stream needs from its listener. */
export interface GrpcStreamContext {
  readonly store: TableStore;
  readonly pool: UpstreamPool;
  readonly tls: boolean;
  /** proxy.grpcmaxrxmsgsize: largest message accepted from the client and from the upstream. */
  readonly maxRx: number;
  /** proxy.grpcmaxtxmsgsize: largest message sent to the client. */
  readonly maxTx: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/**
 * Connection-specific headers (RFC 9113 §8.2.2) and the ones the proxy sets itself; pseudo-headers
 * are rebuilt. `te: trailers` is end-to-end for gRPC and is forwarded.
 */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

function forwardable(h: IncomingHttpHeaders, out: OutgoingHttpHeaders): OutgoingHttpHeaders {
  for (const k of Object.keys(h)) {
    if (k.charCodeAt(0) === 58 /* : */ || HOP.has(k)) continue;
    out[k] = h[k];
  }
  return out;
}

function single(v: string | string[] | undefined): string {
  if (Array.isArray(v)) return v.length === 1 ? (v[0] as string) : '';
  return v ?? '';
}

/**
 * Proxies one gRPC stream (fabio section (o)): route by the full method name as path and the
 * `dsthost` metadata as host, then relay headers, length-prefixed messages and trailers both ways
 * with back-pressure. Every way a stream can end goes through `finish` (a status the proxy makes
 * up) or the upstream's own trailers; the metric is recorded once, when the client stream closes.
 */
export function proxyStream(ctx: GrpcStreamContext, down: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const started = performance.now();
  const call: CallState = { code: undefined, deadline: undefined, trailers: undefined, upError: undefined };
  let up: ClientHttp2Stream | undefined;
  let res: LookupResult | undefined;

  down.on('error', () => {});
  down.once('close', () => {
    clearTimeout(call.deadline);
    if (up !== undefined && !up.closed) up.close(NGHTTP2_CANCEL);
    const seconds = (performance.now() - started) / 1000;
    ctx.metrics.grpcRequest?.(codeName(call.code ?? GrpcCode.CANCELLED), seconds);
    if (res !== undefined && res.target.redirectCode === 0) ctx.metrics.grpcRoute?.(res.route, res.target, seconds);
  });

  /** Ends the client stream with a status of the proxy's own and cancels the upstream stream. */
  const finish = (c: number, message: string): void => {
    if (call.code !== undefined || down.closed || down.destroyed) return;
    call.code = c;
    clearTimeout(call.deadline);
    if (up !== undefined && !up.closed) up.close(NGHTTP2_CANCEL);
    const st = { 'grpc-status': String(c), 'grpc-message': encodeMessage(message) };
    down.resume(); // whatever the client still sends is read and dropped, never buffered
    if (!down.headersSent) {
      // trailers-only response
      down.respond({ ':status': 200, 'content-type': 'application/grpc', ...st }, { endStream: true });
    } else {
      call.trailers = st;
      down.end();
    }
  };

  const path = single(headers[':path']);
  try {
    const table = ctx.store.current; // one read per stream
    const lreq = { host: single(headers.dsthost), path, tls: ctx.tls };
    const traceId = single(headers.trace);
    if (traceId !== '' && table !== undefined && ctx.log.enabled('TRACE')) {
      // fabio's route trace, asked for with the `trace` metadata (the Trace header of HTTP)
      const exp = table.explain(lreq);
      for (const line of traceLines(clip(traceId), exp)) ctx.log.trace(line);
      res = exp.result;
    } else {
      res = table?.lookup(lreq);
    }
  } catch (e) {
    ctx.log.error(`grpc: lookup ${clip(path)}: ${(e as Error).message}`);
    finish(GrpcCode.INTERNAL, 'internal error');
    return;
  }
  if (res === undefined || res.target.redirectCode > 0) {
    ctx.metrics.grpcNoRoute?.();
    finish(GrpcCode.NOT_FOUND, 'no route found');
    return;
  }
  const target = res.target;

  const ms = parseGrpcTimeout(headers['grpc-timeout']);
  if (ms !== undefined) {
    // The header goes upstream unchanged (the server sees the deadline); the proxy enforces it too,
    // so a client that stops watching does not leave the upstream call running.
    call.deadline = setTimeout(() => finish(GrpcCode.DEADLINE_EXCEEDED, 'deadline exceeded'), ms);
  }

  const out = forwardable(headers, {
    ':method': single(headers[':method']) || 'POST', // transparent: a non-gRPC request is the upstream's to refuse
    ':scheme': target.scheme === 'grpcs' || target.scheme === 'https' ? 'https' : 'http',
    ':authority': target.hostPort,
    ':path': path,
  });
  try {
    up = ctx.pool.request(target, out);
  } catch (e) {
    finish(GrpcCode.UNAVAILABLE, `upstream ${target.hostPort}: ${(e as Error).message}`);
    return;
  }
  const u = up;

  // client → upstream
  const rx = new FrameMeter(ctx.maxRx);
  down.on('data', (chunk: Buffer) => {
    if (call.code !== undefined) return; // the call is over: drop
    const big = rx.push(chunk);
    if (big >= 0) {
      finish(GrpcCode.RESOURCE_EXHAUSTED, `received message larger than max (${big} vs. ${ctx.maxRx})`);
      return;
    }
    if (!u.write(chunk)) {
      down.pause();
      u.once('drain', () => down.resume());
    }
  });
  down.once('end', () => {
    if (!u.closed) u.end();
  });

  relayUpstream(ctx, call, down, u, target, finish);
}

/** The per-call state both directions and `finish` read and write. */
interface CallState {
  /** The gRPC status the call ended with; undefined while it runs. */
  code: number | undefined;
  /** The proxy's enforcement of grpc-timeout. */
  deadline: NodeJS.Timeout | undefined;
  /** What the client gets as trailers (the upstream's, or the proxy's own status). */
  trailers: OutgoingHttpHeaders | undefined;
  upError: Error | undefined;
}

/**
 * Upstream → client: response headers, messages (bounded by the smaller of maxRx and maxTx) and
 * trailers, with back-pressure; a reset or an upstream that ends without trailers resets the client.
 */
function relayUpstream(
  ctx: GrpcStreamContext,
  call: CallState,
  down: ServerHttp2Stream,
  u: ClientHttp2Stream,
  target: LookupResult['target'],
  finish: (c: number, message: string) => void,
): void {
  const maxDown = Math.min(ctx.maxRx, ctx.maxTx);
  const tx = new FrameMeter(maxDown);
  u.on('error', (e: Error) => {
    call.upError = e;
  });
  u.once('response', (h: IncomingHttpHeaders, flags: number) => {
    if (call.code !== undefined || down.closed) return;
    const head = forwardable(h, { ':status': h[':status'] ?? 200 });
    try {
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
        call.code = parseStatus(h['grpc-status']);
        clearTimeout(call.deadline);
        down.resume();
        down.respond(head, { endStream: true });
        return;
      }
      down.respond(head, { waitForTrailers: true });
    } catch (e) {
      // Headers Node refuses to send cost this stream, never the process.
      ctx.log.debug(`grpc: upstream ${target.hostPort} response headers: ${clip((e as Error).message)}`);
      call.code = undefined;
      finish(GrpcCode.INTERNAL, 'invalid upstream response headers');
    }
  });
  u.on('data', (chunk: Buffer) => {
    if (call.code !== undefined) return;
    const big = tx.push(chunk);
    if (big >= 0) {
      finish(GrpcCode.RESOURCE_EXHAUSTED, `sent message larger than max (${big} vs. ${maxDown})`);
      return;
    }
    if (!down.write(chunk)) {
      u.pause();
      down.once('drain', () => u.resume());
    }
  });
  u.once('trailers', (t: IncomingHttpHeaders) => {
    if (call.code !== undefined) return;
    call.trailers = forwardable(t, {});
  });
  u.once('end', () => {
    if (call.code !== undefined || down.closed || !down.headersSent) return;
    if (call.trailers === undefined) {
      // Either a reset (Node emits 'end' before 'aborted'/'close' then) or an upstream that ended
      // without trailers: 'close' decides, with the reset code once it is known. While our side is
      // still open, 'close' would wait for the client: end the stream a turn later in that case.
      if (!u.writableEnded)
        setImmediate(() => {
          if (!u.closed) u.close(NGHTTP2_NO_ERROR);
        });
      return;
    }
    call.code = parseStatus(call.trailers['grpc-status'] as string | undefined);
    clearTimeout(call.deadline);
    down.end();
  });
  down.on('wantTrailers', () => {
    try {
      down.sendTrailers(call.trailers ?? { 'grpc-status': String(GrpcCode.INTERNAL) });
    } catch {
      down.sendTrailers({ 'grpc-status': String(GrpcCode.INTERNAL), 'grpc-message': 'invalid upstream trailers' });
    }
  });
  u.once('close', () => {
    if (call.code !== undefined || down.closed) return;
    const rst = u.rstCode ?? NGHTTP2_NO_ERROR;
    if (!down.headersSent) {
      const why = call.upError !== undefined ? call.upError.message : `stream closed (code ${rst})`;
      ctx.log.debug(`grpc: upstream ${target.hostPort}: ${clip(why)}`);
      finish(GrpcCode.UNAVAILABLE, `upstream ${target.hostPort}: ${why}`);
    } else {
      // Mid-response without trailers: reset the client stream as the upstream reset ours. Node
      // reports a reset that arrives after our side ended as a clean close (rstCode 0), so an
      // upstream that ended without trailers and one that reset look alike: both reset the client.
      call.code = rst === NGHTTP2_CANCEL ? GrpcCode.CANCELLED : GrpcCode.INTERNAL;
      clearTimeout(call.deadline);
      down.close(rst === NGHTTP2_NO_ERROR ? NGHTTP2_INTERNAL_ERROR : rst);
    }
  });
}
