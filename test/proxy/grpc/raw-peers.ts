// Raw node:http2 peers for the gRPC proxy tests, where the test writes every frame itself.
import http2, {
  type ClientHttp2Stream,
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Proxy } from './harness.ts';

/** A raw h2c backend: `onStream` decides what each stream gets. */
export async function rawBackend(onStream: (s: ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void) {
  const server: Http2Server = http2.createServer();
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (s, h) => {
    s.on('error', () => {});
    onStream(s, h);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    sessions,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A raw h2c client stream to the proxy (grpc framing by hand). */
export function rawCall(p: Proxy, path: string, extra: http2.OutgoingHttpHeaders = {}) {
  const session = http2.connect(`http://${p.addr}`);
  session.on('error', () => {});
  const stream: ClientHttp2Stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...extra,
  });
  stream.on('error', () => {});
  const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
    stream.on('response', (h, flags) => {
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) resolve(h);
    });
    stream.on('trailers', (t) => resolve(t));
  });
  const closed = new Promise<number>((r) => stream.on('close', () => r(stream.rstCode ?? 0)));
  return { session, stream, trailers, closed };
}

export function frame(len: number, fill = 0x61): Buffer {
  const b = Buffer.alloc(5 + len, fill);
  b[0] = 0;
  b.writeUInt32BE(len, 1);
  return b;
}
