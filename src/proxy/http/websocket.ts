import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../log/logger.ts';
import type { Metrics } from '../../metrics/types.ts';
import type { Target } from '../../routes/types.ts';
import { ProxyError, rawAnswer, toResponse } from '../errors.ts';

export interface TunnelJob {
  readonly target: Target;
  /** Request line + rewritten headers + blank line. */
  readonly requestHead: string;
  /** Bytes the client sent after its headers (held until the upstream answered 101). */
  readonly head: Buffer;
  /** The client connection, paused by the caller so nothing more is read before the 101. */
  readonly client: Duplex;
  readonly dialTimeout: number;
  /** proxy.lingertimeout (ms): once one side ended, how long the other may still send (0 = none). */
  readonly linger: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** fabio's handshake read deadline. */
const HANDSHAKE_MS = 1000;
/** An upstream answer whose status line is longer than this is not HTTP: refuse it. */
const MAX_STATUS_LINE = 1024;
/** `HTTP/1.1 101` followed by the reason's space or the line end (fabio checks the first bytes). */
const SWITCHING = /^HTTP\/1\.1 101[ \r]/;

/**
 * Writes the proxy's own answer (errors.ts rawAnswer: a valid status line, `Connection: close`) and closes the (paused) client once it is flushed, without waiting for its FIN. */
export function answerUpgrade(
  client: Duplex,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: string,
): void {
  if (client.destroyed) return;
  client.end(rawAnswer(status, headers, body));
  client.once('finish', () => client.destroy());
}

/**
 * fabio's websocket tunnel: dial, write the rewritten request, read the upstream's status line
 * (within 1 s), require `HTTP/1.1 101`, then splice both ways.
 *
 * Request smuggling (issue #13): no client byte after the upgrade head goes upstream before the
 * upstream answered 101. Until then the client is paused and `head` is held; on a non-101 answer the
 * held bytes are dropped, the answer is relayed and the client connection closed, so nothing the
 * client sent after its head can be parsed upstream as a second request past routing, access rules
 * and X-Forwarded-For.
 *
 * Half-close: once one side ended, the other side may still send for `linger` ms, then both close
 * (HAProxy's `timeout client-fin`); an error or reset on either side destroys both at once.
 * Dial and TLS failures before any upstream byte get the same status as an HTTP request (one mapping,
 * errors.ts); nothing is access-logged. ws.conn counts open tunnels.
 */
export function tunnelWebsocket(job: TunnelJob): void {
  const t = job.target;
  const client = job.client;
  const secure = t.scheme === 'https' || t.scheme === 'wss';
  const upstream = dial(t, secure);
  const dialMs = job.dialTimeout > 0 ? job.dialTimeout : 30_000;
  let counted = false;
  let done = false;
  let answered = false; // some upstream byte reached the client
  let timer: NodeJS.Timeout | undefined;
  const close = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    upstream.destroy();
    client.destroy();
    if (counted) job.metrics.wsConn(-1);
  };
  const arm = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(close, ms);
  };
  /** Before any upstream byte reached the client: answer with the HTTP error status, then close. */
  const fail = (e: Error) => {
    if (counted || answered || done) return close();
    job.log.error(`ws: ${e.message}`);
    const r = toResponse(e);
    done = true;
    clearTimeout(timer);
    upstream.destroy();
    answerUpgrade(client, r.status, {}, r.body);
  };
  upstream.on('error', fail);
  client.on('error', close);
  client.on('close', close);
  timer = setTimeout(() => fail(new ProxyError('UPSTREAM_TIMEOUT', `dial timeout ${t.hostPort}`)), dialMs);
  upstream.once(secure ? 'secureConnect' : 'connect', () => {
    arm(HANDSHAKE_MS);
    upstream.write(job.requestHead);
    readStatusLine(upstream, (got, ended) => {
      if (ended && got.length === 0) return close();
      answered = true;
      const eol = got.indexOf('\r\n');
      if (ended || eol < 0 || !SWITCHING.test(got.subarray(0, eol + 1).toString('latin1'))) return refuse(got);
      client.write(got);
      if (job.head.length > 0) upstream.write(job.head);
      clearTimeout(timer);
      timer = undefined;
      counted = true;
      job.metrics.wsConn(1);
      splice();
    });
  });

  /** Not a 101: relay the upstream's answer (for at most the linger), never forward a client byte. */
  const refuse = (first: Buffer) => {
    upstream.end(); // the backend may not read another request from this connection
    client.write(first);
    // Bounded even when the client does not read the answer.
    arm(job.linger > 0 ? job.linger : HANDSHAKE_MS);
    if (job.linger <= 0 || upstream.readableEnded) {
      client.end();
      client.once('finish', close);
      return;
    }
    upstream.on('data', (d: Buffer) => client.write(d));
    upstream.once('end', () => {
      client.end();
      client.once('finish', close);
    });
  };

  const splice = () => {
    relay(client, upstream);
    relay(upstream, client);
    client.resume();
  };

  /** One direction; back-pressure by pause/resume; an end half-closes the other side and starts the linger. */
  const relay = (from: Duplex, to: Duplex) => {
    from.on('data', (d: Buffer) => {
      if (!to.write(d)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', () => {
      if (done) return;
      if (job.linger <= 0) return close(); // fabio: one side done closes both at once
      to.end();
      if (timer === undefined) arm(job.linger); // the first end starts the linger; it is not extended
      // Both directions ended: close once what is queued for `to` is flushed (still within the linger).
      if (client.readableEnded && upstream.readableEnded) {
        if (to.writableFinished) close();
        else to.once('finish', close);
      }
    });
  };
}

/** Dials the target (TLS for https/wss, with the host= name as SNI unless it is an IP). */
function dial(t: Target, secure: boolean): Socket {
  if (!secure) return netConnect({ host: t.hostname, port: t.port, allowHalfOpen: true });
  const sni = t.host !== '' && t.host !== 'dst' ? t.host : t.hostname;
  return tlsConnect({
    host: t.hostname,
    port: t.port,
    servername: isIp(sni) ? undefined : sni,
    rejectUnauthorized: !t.tlsSkipVerify,
    allowHalfOpen: true,
  } as import('node:tls').ConnectionOptions);
}

/**
 * Reads until the upstream's status line is complete or MAX_STATUS_LINE bytes came, then calls
 * `done` with everything read so far; `ended`: the upstream sent its FIN first (`got` may be empty).
 */
function readStatusLine(upstream: Socket, done: (got: Buffer, ended: boolean) => void): void {
  const parts: Buffer[] = [];
  let size = 0;
  const onData = (d: Buffer) => {
    parts.push(d);
    size += d.length;
    const got = parts.length === 1 ? d : Buffer.concat(parts, size);
    if (got.indexOf('\r\n') < 0 && size < MAX_STATUS_LINE) return; // the status line is not complete yet
    upstream.off('data', onData);
    upstream.off('end', onEnd);
    done(got, false);
  };
  const onEnd = () => {
    upstream.off('data', onData);
    done(Buffer.concat(parts, size), true);
  };
  upstream.on('data', onData);
  upstream.once('end', onEnd);
}

function isIp(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(':');
}
