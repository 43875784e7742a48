/**
 * gRPC unary calls per second, direct to a grpc-js backend and through a fabio-ts proto=grpc listener,
 * in one process (client, proxy and backend share the event loop and the CPU: read the ratio, not
 * the absolute figures). Messages are raw bytes with identity (de)serialisers, so protobuf costs
 * nothing on either path.
 *
 * Usage: npx tsx bench/grpc.ts [seconds=5] [concurrency=32] [payload bytes=64]
 */
import * as grpc from '@grpc/grpc-js';
import { testConfig } from '../src/config/index.ts';
import { memoryLogger } from '../src/log/logger.ts';
import { noopMetrics } from '../src/metrics/types.ts';
import { startGrpcListener } from '../src/proxy/grpc/index.ts';
import { buildTable } from '../src/routes/index.ts';
import { TableStore } from '../src/routes/table-store.ts';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 32);
const payload = Buffer.alloc(Number(process.argv[4] ?? 64), 120);
const PATH = '/bench.Echo/Unary';
const id = (b: Buffer) => b;

const service: grpc.ServiceDefinition = {
  Unary: {
    path: PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  },
};

async function backend(): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(service, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { port, server };
}

async function run(addr: string, ms: number): Promise<number> {
  const c = new grpc.Client(addr, grpc.credentials.createInsecure());
  const end = Date.now() + ms;
  let done = 0;
  let failed = 0;
  const worker = async () => {
    while (Date.now() < end) {
      await new Promise<void>((resolve) =>
        c.makeUnaryRequest(PATH, id, id, payload, (e) => {
          if (e) failed++;
          else done++;
          resolve();
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  c.close();
  if (failed > 0) throw new Error(`${failed} calls failed`);
  return done / (ms / 1000);
}

const b = await backend();
const cfg = testConfig({ 'proxy.addr': '127.0.0.1:0;proto=grpc' });
const store = new TableStore();
store.swap(
  buildTable(`route add bench /bench.Echo grpc://127.0.0.1:${b.port}`, {
    matcher: 'prefix',
    strategy: 'rnd',
    globDisabled: false,
    globCacheSize: 10,
  }),
);
const l = await startGrpcListener(cfg.listeners[0]!, {
  cfg,
  store,
  log: memoryLogger('WARN'),
  metrics: noopMetrics,
  noRouteHtml: () => '',
  accessLog: undefined,
});
const direct = `127.0.0.1:${b.port}`;
const proxied = `127.0.0.1:${l.port}`;
await run(direct, 1000); // warm-up
await run(proxied, 1000);
const d = await run(direct, seconds * 1000);
const p = await run(proxied, seconds * 1000);
process.stdout.write(
  `grpc unary, ${concurrency} in flight, ${payload.length} B, ${seconds}s each (one process)\n` +
    `  direct       ${d.toFixed(0)} calls/s\n` +
    `  via fabio-ts ${p.toFixed(0)} calls/s  (${((p / d) * 100).toFixed(0)}% of direct)\n`,
);
await l.close(0);
b.server.forceShutdown();
