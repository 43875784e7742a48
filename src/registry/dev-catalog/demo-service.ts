import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The demo backend of `fabio-ts -dev`: answers "hello from <name>" and registers itself in the
 * catalog with a urlprefix- tag and an HTTP check, so a route shows up as soon as fabio-ts runs.
 */

export interface DemoServiceOptions {
  readonly catalogUrl: string;
  readonly host?: string;
  /** Service name (default 'demo'). */
  readonly name?: string;
  /** Tags (default ['urlprefix-/demo']). */
  readonly tags?: readonly string[];
  /** Port (default 0 = any free port). */
  readonly port?: number;
  /** Check interval (Go duration, default '1s'). */
  readonly interval?: string;
}

export interface DemoService {
  readonly port: number;
  /** Service ID in the catalog. */
  readonly id: string;
  /** Deregisters (best effort) and stops the server. */
  close(): Promise<void>;
}

export async function startDemoService(opts: DemoServiceOptions): Promise<DemoService> {
  const host = opts.host ?? '127.0.0.1';
  const name = opts.name ?? 'demo';
  const server = http.createServer((req, res) => {
    req.on('error', () => res.destroy());
    const body = req.url === '/health' ? 'OK\n' : `hello from ${name}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.timeout = 60_000;
  server.headersTimeout = 30_000;
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.removeAllListeners('error');
      server.on('error', () => {}); // after start-up a server error must not crash the process
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const id = `${name}-${port}`;
  const base = opts.catalogUrl.replace(/\/+$/, '');
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const res = await fetch(`${base}/v1/agent/service/register`, {
    method: 'PUT',
    signal: AbortSignal.timeout(10_000),
    body: JSON.stringify({
      ID: id,
      Name: name,
      Address: host,
      Port: port,
      Tags: opts.tags ?? ['urlprefix-/demo'],
      Check: { HTTP: `http://${hostInUrl}:${port}/health`, Interval: opts.interval ?? '1s', Timeout: '1s' },
    }),
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  const text = await res.text();
  if (!res.ok) {
    await stop();
    throw new Error(`demo service: register failed: ${res.status} ${text}`);
  }
  return {
    port,
    id,
    async close() {
      await fetch(`${base}/v1/agent/service/deregister/${encodeURIComponent(id)}`, {
        method: 'PUT',
        signal: AbortSignal.timeout(2_000),
      })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
      await stop();
    },
  };
}
