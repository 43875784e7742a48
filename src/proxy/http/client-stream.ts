import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/**
 * Whether the client's side of an exchange is already gone: the HTTP/1.x response or socket was
 * destroyed, or the HTTP/2 stream was reset or closed. Node 20's Http2ServerResponse has no
 * `destroyed` getter (it reads as undefined), so a stream the client reset before the handler ran
 * looked alive; its upstream request then went out and, with nobody left to read the answer, held an
 * upstream connection for as long as the upstream kept it (issue #21: HTTP/2 rapid reset). Check this
 * before starting upstream work; after that, the response's 'close' event aborts it.
 */
export function responseClosed(res: ServerResponse | Http2ServerResponse): boolean {
  const stream = (res as Http2ServerResponse).stream as Http2ServerResponse['stream'] | undefined;
  if (stream !== undefined) return stream.destroyed || stream.closed;
  const r = res as ServerResponse;
  return r.destroyed || r.closed || r.socket?.destroyed === true;
}
