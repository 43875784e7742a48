import { KeepAliveLater } from './keepalive.ts';
import { BufferPool } from './relay.ts';

/**
 * What the TCP and SNI listeners of one data plane share across connections: the deferred upstream
 * keep-alive (keepalive.ts) and the pool of bulk relay buffers (relay.ts). Created by the data plane
 * (src/runtime/data-plane.ts) and handed to the listeners through `ProxyDeps.tcpShared`; a listener
 * started without one (tests, tools) makes its own, so no state is held at module level.
 */
export interface TcpShared {
  readonly keepAlive: KeepAliveLater;
  readonly buffers: BufferPool;
}

export function createTcpShared(): TcpShared {
  return { keepAlive: new KeepAliveLater(), buffers: new BufferPool() };
}
