import type { ListenerSpec } from '../config/types.ts';
import { startHttpListener } from './http/index.ts';
import { PoolCache } from './http/pools.ts';
import type { TcpShared } from './tcp/shared.ts';
import type { PrometheusText, ProxyDeps, RunningListener } from './types.ts';

/**
 * Starts every cfg.listeners entry by proto. tcp* protos use the tcp helper's listeners, grpc and
 * grpcs the gRPC proxy (src/proxy/grpc). If one listener fails to start, the ones already started
 * are closed and the error is rethrown (fabio exits on a listen error).
 */
export async function startListeners(deps: ProxyDeps & { prometheus?: PrometheusText }): Promise<RunningListener[]> {
  const cfg = deps.cfg;
  // One upstream pool cache per process, shared by all HTTP listeners.
  const pools = new PoolCache(deps.store, {
    maxConn: cfg.num('proxy.maxconn'),
    dialTimeout: cfg.num('proxy.dialtimeout'),
    headersTimeout: cfg.num('proxy.responseheadertimeout'),
    idleTimeout: cfg.num('proxy.idleconntimeout'),
    tcpKeepAlive: cfg.num('proxy.keepalivetimeout'),
  });
  // One keep-alive scheduler and relay buffer pool per process too, made when a TCP listener starts.
  const shared: { tcp?: TcpShared } = { tcp: deps.tcpShared };
  const running: RunningListener[] = [];
  try {
    for (const spec of cfg.listeners) {
      const l = await startOne(spec, deps, pools, shared);
      if (l !== undefined) running.push(l);
    }
  } catch (e) {
    await Promise.allSettled(running.map((l) => l.close(0)));
    await pools.close();
    throw e;
  }
  if (running.length > 0) {
    // Pools close after the last listener: wrap the last close.
    const last = running[running.length - 1] as RunningListener;
    running[running.length - 1] = {
      spec: last.spec,
      port: last.port,
      close: (g) => last.close(g).finally(() => pools.close()),
    };
  }
  return running;
}

async function startOne(
  spec: ListenerSpec,
  deps: ProxyDeps & { prometheus?: PrometheusText },
  pools: PoolCache,
  shared: { tcp?: TcpShared },
): Promise<RunningListener | undefined> {
  switch (spec.proto) {
    case 'http':
    case 'https':
    case 'prometheus':
      return startHttpListener(spec, { ...deps, pools });
    case 'tcp':
    case 'tcp+sni':
    case 'tcp-dynamic':
    case 'https+tcp+sni': {
      const tcp = await import('./tcp/index.ts');
      shared.tcp ??= tcp.createTcpShared();
      const tcpDeps: ProxyDeps = { ...deps, tcpShared: shared.tcp };
      if (spec.proto === 'tcp') return tcp.startTcpListener(spec, tcpDeps);
      if (spec.proto === 'tcp+sni') return tcp.startSniListener(spec, tcpDeps);
      if (spec.proto === 'tcp-dynamic') return tcp.startTcpDynamic(spec, tcpDeps);
      return tcp.startHttpsTcpSni(spec, { ...tcpDeps, pools } as ProxyDeps);
    }
    case 'grpc':
    case 'grpcs': {
      const grpc = await import('./grpc/index.ts');
      return grpc.startGrpcListener(spec, deps);
    }
    default:
      deps.log.error(`unknown protocol "${spec.proto as string}"`);
      return undefined;
  }
}
