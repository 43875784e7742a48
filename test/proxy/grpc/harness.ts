import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { testConfig } from '../../../src/config/index.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import { type Metrics, noopMetrics } from '../../../src/metrics/types.ts';
import { startGrpcListener } from '../../../src/proxy/grpc/index.ts';
import type { RunningListener } from '../../../src/proxy/types.ts';
import { buildTable } from '../../../src/routes/index.ts';
import { TableStore } from '../../../src/routes/table-store.ts';

export interface Msg {
  text?: string;
  count?: number;
  blob?: Buffer;
}

const PROTO = fileURLToPath(new URL('./fixtures/echo.proto', import.meta.url));
const def = loader.loadSync(PROTO, { keepCase: true, defaults: true });
// biome-ignore lint/suspicious/noExplicitAny: the loaded package is untyped by design (no codegen)
const pkg = grpc.loadPackageDefinition(def) as any;
export const EchoClient = pkg.test.echo.Echo as grpc.ServiceClientConstructor;
const service = EchoClient.service;

/** What the backend saw: cancellations and the metadata of the last call. */
export class BackendEvents extends EventEmitter {
  cancelled = 0;
  lastMeta: grpc.Metadata | undefined;
  lastDeadline: Date | number | undefined;
}

/**
 * An Echo backend on 127.0.0.1:0. Unary: text "fail" → INVALID_ARGUMENT "bad input" with trailing
 * metadata x-detail; "hang" → never answers (emits 'cancelled' when the call is cancelled); otherwise
 * echoes text and blob, and metadata x-in comes back as initial metadata x-out.
 */
export async function startBackend(creds?: grpc.ServerCredentials, name = 'b1') {
  const ev = new BackendEvents();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const echoMeta = (call: { metadata: grpc.Metadata; sendMetadata(m: grpc.Metadata): void }) => {
    ev.lastMeta = call.metadata;
    const m = new grpc.Metadata();
    const v = call.metadata.get('x-in')[0];
    if (v !== undefined) m.set('x-out', String(v));
    m.set('x-backend', name);
    call.sendMetadata(m);
  };
  server.addService(service, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      echoMeta(call);
      ev.lastDeadline = call.getDeadline();
      const text = call.request.text ?? '';
      if (text === 'fail') {
        const trailer = new grpc.Metadata();
        trailer.set('x-detail', 'why');
        cb({ code: grpc.status.INVALID_ARGUMENT, details: 'bad input', metadata: trailer });
        return;
      }
      if (text === 'hang') {
        call.on('cancelled', () => {
          ev.cancelled++;
          ev.emit('cancelled');
        });
        ev.emit('hanging');
        return;
      }
      if (text === 'dsthost') {
        cb(null, { text: String(call.metadata.get('dsthost')[0] ?? '') });
        return;
      }
      cb(null, { text: `${name}:${text}`, blob: call.request.blob });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      echoMeta(call);
      for (let i = 0; i < (call.request.count ?? 0); i++) call.write({ text: `${call.request.text}${i}` });
      call.end();
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      echoMeta(call);
      const parts: string[] = [];
      call.on('data', (m: Msg) => parts.push(m.text ?? ''));
      call.on('end', () => cb(null, { text: parts.join(','), count: parts.length }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      echoMeta(call);
      call.on('data', (m: Msg) => {
        if (m.text === 'boom') {
          call.emit('error', { code: grpc.status.ABORTED, details: 'aborted mid-stream' });
          return;
        }
        call.write({ text: `echo:${m.text}` });
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds ?? grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { server, port, ev, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

export const TABLE_OPTS = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 } as const;

export interface Proxy {
  listener: RunningListener;
  store: TableStore;
  log: ReturnType<typeof memoryLogger>;
  addr: string;
}

/** A grpc or grpcs listener on 127.0.0.1:0 over the given route text. */
export async function startProxy(
  routes: string,
  opts: {
    proto?: 'grpc' | 'grpcs';
    cfg?: Record<string, string>;
    metrics?: Metrics;
    upstreamCa?: string;
    logLevel?: 'TRACE' | 'DEBUG';
  } = {},
): Promise<Proxy> {
  const proto = opts.proto ?? 'grpc';
  const cfg = testConfig({
    'proxy.addr': `127.0.0.1:0;proto=${proto}${proto === 'grpcs' ? ';cs=c1' : ''}`,
    ...opts.cfg,
  });
  const store = new TableStore();
  store.swap(buildTable(routes, TABLE_OPTS));
  const log = memoryLogger(opts.logLevel ?? 'DEBUG');
  const listener = await startGrpcListener(cfg.listeners[0]!, {
    cfg,
    store,
    log,
    metrics: opts.metrics ?? noopMetrics,
    noRouteHtml: () => '',
    accessLog: undefined,
    ...(opts.upstreamCa !== undefined ? { upstreamCa: opts.upstreamCa } : {}),
  });
  return { listener, store, log, addr: `127.0.0.1:${listener.port}` };
}

// biome-ignore lint/suspicious/noExplicitAny: generic client methods are looked up by name
export type Client = grpc.Client & Record<string, any>;

export function client(addr: string, creds?: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): Client {
  return new EchoClient(addr, creds ?? grpc.credentials.createInsecure(), options) as Client;
}

export function unary(c: Client, req: Msg, meta = new grpc.Metadata(), opts: grpc.CallOptions = {}) {
  return new Promise<{ res?: Msg; err?: grpc.ServiceError; headers?: grpc.Metadata; status?: grpc.StatusObject }>(
    (resolve) => {
      let headers: grpc.Metadata | undefined;
      let out: { res?: Msg; err?: grpc.ServiceError } | undefined;
      let status: grpc.StatusObject | undefined;
      const done = () => {
        if (out !== undefined && status !== undefined) resolve({ ...out, headers, status });
      };
      const call = c.Unary(req, meta, opts, (err: grpc.ServiceError | null, res: Msg) => {
        out = err ? { err } : { res };
        done();
      });
      call.on('metadata', (m: grpc.Metadata) => {
        headers = m;
      });
      call.on('status', (s: grpc.StatusObject) => {
        status = s;
        done();
      });
    },
  );
}
