import type { Server } from 'node:net';
import type { ListenerSpec } from '../config/types.ts';
import type { ProxyDeps } from './types.ts';

/**
 * Binds the front server of an HTTP-family listener (http, https, prometheus, grpc, grpcs — or the
 * PROXY-protocol net.Server in front of one) on the spec's address. A bind failure rejects, and the
 * runtime turns it into one [FATAL] line; once bound, server errors are logged and the listener's
 * start line is written. Returns the bound port (the spec's port may be 0). The TCP listeners have
 * their own (src/proxy/tcp/conn-server.ts listenSpec), since they may bind on bare handles.
 * When nothing could be bound, `release` frees what was set up for the listener (auth reloads,
 * certificate refreshes, pools) before the rejection.
 */
export async function listenFront(
  front: Server,
  spec: ListenerSpec,
  deps: ProxyDeps,
  release: () => void = () => {},
): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen(spec.port, spec.host === '' ? undefined : spec.host, () => {
        front.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    release();
    throw e;
  }
  front.on('error', (e: Error) => deps.log.error(`${spec.proto}: ${e.message}`));
  const addr = front.address();
  deps.log.info(`${spec.proto.toUpperCase()} proxy listening on ${spec.addr}`);
  return typeof addr === 'object' && addr !== null ? addr.port : spec.port;
}
