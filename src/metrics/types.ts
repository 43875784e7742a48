import type { Route, Table, Target } from '../routes/types.ts';

/**
 * What the data planes report. Names and labels follow fabio (section (h)); the prom-client
 * implementation lives in src/metrics/prometheus.ts. Implementations cache label children per
 * target key so the hot path does no label-map lookups.
 */
export interface Metrics {
  /** One proxied HTTP request: `route` histogram, `requests{service}`, `http.status{code,service}`. */
  httpRequest(route: Route, target: Target, status: number, seconds: number): void;
  /** HTTP, TCP and SNI no-route. */
  notFound(): void;
  redirect(code: number): void;
  wsConn(delta: 1 | -1): void;
  tcpConn(kind: 'tcp' | 'tcp_sni'): void;
  tcpConnFail(kind: 'tcp' | 'tcp_sni'): void;
  tcpNoRoute(kind: 'tcp' | 'tcp_sni'): void;
  /** A connection closed at accept because its listener had proxy.listener.maxconn open (fabio-ts). */
  tcpRefused(kind: 'tcp' | 'tcp_sni'): void;
  /** Bytes of a TCP/SNI connection: rx = upstream→client, tx = client→upstream. */
  routeBytes(route: Route, target: Target, rx: number, tx: number): void;
  /** A TCP/SNI connection to the target is established (admin UI traffic: active connections). */
  tcpRouteOpen?(route: Route, target: Target): void;
  /** The target of a TCP/SNI route could not be dialled (admin UI traffic: dial failures). */
  tcpRouteFail?(route: Route, target: Target): void;
  /** After a swap: drop label sets of targets that left the table. */
  pruneTargets(table: Table): void;
  /** An HTTP request sent again after `target` failed (fabio-ts, src/proxy/outlier). */
  retry?(route: Route, target: Target): void;
  /** `target` was ejected by passive outlier detection (fabio-ts). */
  ejection?(route: Route, target: Target): void;
  /** A new gRPC client connection (`grpc.conn`). Optional: recorders that ignore gRPC may leave it out. */
  grpcConn?(): void;
  /** A gRPC stream without a route (`grpc.noroute`). */
  grpcNoRoute?(): void;
  /** One finished RPC: `grpc.requests`, and `grep.status{code}` (fabio's typo) beside `grpc.status{code}`. */
  grpcRequest?(code: string, seconds: number): void;
  /** One finished gRPC stream that had a route: the `route` histogram of its target, as fabio does. */
  grpcRoute?(route: Route, target: Target, seconds: number): void;
}

export const noopMetrics: Metrics = {
  httpRequest() {},
  notFound() {},
  redirect() {},
  wsConn() {},
  tcpConn() {},
  tcpConnFail() {},
  tcpNoRoute() {},
  tcpRefused() {},
  routeBytes() {},
  pruneTargets() {},
  grpcConn() {},
  grpcNoRoute() {},
  grpcRequest() {},
  grpcRoute() {},
};
