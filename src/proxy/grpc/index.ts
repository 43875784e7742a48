/** gRPC listeners (proto=grpc, proto=grpcs): a transparent proxy on node:http2. */
export type { GrpcListenerDeps } from './listener.ts';
export { startGrpcListener } from './listener.ts';
