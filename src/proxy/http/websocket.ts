import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Logger } from '../../log/logger.ts';
import type { Metrics } from '../../metrics/types.ts';
import type { Target } from '../../routes/types.ts';

export interface TunnelJob {
  readonly target: Target;
  /** Request line + rewritten headers + blank line. */
  readonly requestHead: string;
  /** Bytes the client sent after its headers. */
  readonly head: Buffer;
  readonly client: Duplex;
  readonly dialTimeout: number;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** fabio's handshake read deadline. */
const HANDSHAKE_MS = 1000;
const OK = Buffer.from('HTTP/1.1 101');

/**
 * fabio's websocket tunnel: dial, write the rewritten request, forward the upstream's first bytes
 * (read within 1 s), require `HTTP/1.1 101`, then splice both ways. Any failure closes the client
 * connection; nothing is access-logged. ws.conn counts open tunnels.
 */
export function tunnelWebsocket(job: TunnelJob): void {
  const t = job.target;
  const secure = t.scheme === 'https' || t.scheme === 'wss';
  const sni = t.host !== '' && t.host !== 'dst' ? t.host : t.hostname;
  const upstream: Socket = secure
    ? tlsConnect({
        host: t.hostname,
        port: t.port,
        servername: isIp(sni) ? undefined : sni,
        rejectUnauthorized: !t.tlsSkipVerify,
      })
    : netConnect({ host: t.hostname, port: t.port });
  const client = job.client;
  let counted = false;
  let done = false;
  const close = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    upstream.destroy();
    client.destroy();
    if (counted) job.metrics.wsConn(-1);
  };
  upstream.on('error', (e) => {
    if (!counted) job.log.error(`ws: ${e.message}`);
    close();
  });
  client.on('error', close);
  client.on('close', close);
  upstream.setTimeout(job.dialTimeout > 0 ? job.dialTimeout : 30_000, () => {
    upstream.setTimeout(0);
    if (!counted) close();
  });
  let timer = setTimeout(close, (job.dialTimeout > 0 ? job.dialTimeout : 30_000) + HANDSHAKE_MS);
  upstream.once(secure ? 'secureConnect' : 'connect', () => {
    upstream.setTimeout(0);
    clearTimeout(timer);
    timer = setTimeout(close, HANDSHAKE_MS);
    upstream.write(job.requestHead);
    if (job.head.length > 0) upstream.write(job.head);
    upstream.once('data', (first: Buffer) => {
      clearTimeout(timer);
      client.write(first);
      if (first.length < OK.length || !first.subarray(0, OK.length).equals(OK)) {
        client.end();
        close();
        return;
      }
      counted = true;
      job.metrics.wsConn(1);
      pipeline(client, upstream, close);
      pipeline(upstream, client, close);
    });
  });
}

function isIp(s: string): boolean {
  return /^[0-9.]+$/.test(s) || s.includes(':');
}
