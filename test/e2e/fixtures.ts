import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Fabio, freePort, startFabio, until } from '../helpers/proc.ts';

/** A fabio-ts process in -dev mode (embedded catalog) on free ports, plus helpers to talk to it. */
export interface DevFabio {
  fabio: Fabio;
  catalog: string;
  ui: string;
  http: number;
  register(body: Record<string, unknown>): Promise<void>;
  deregister(id: string): Promise<void>;
  routesRaw(): Promise<string>;
  stop(): Promise<number | null>;
}

export async function startDevFabio(
  extra: string[] = [],
  listeners?: (p: { http: number }) => string,
): Promise<DevFabio> {
  const [catalogPort, uiPort, http] = [await freePort(), await freePort(), await freePort()];
  const addr = listeners ? listeners({ http }) : `127.0.0.1:${http}`;
  const fabio = startFabio([
    '-dev',
    `-dev.addr=127.0.0.1:${catalogPort}`,
    `-ui.addr=127.0.0.1:${uiPort}`,
    `-proxy.addr=${addr}`,
    '-proxy.workers=1',
    ...extra,
  ]);
  const catalog = `http://127.0.0.1:${catalogPort}`;
  const ui = `http://127.0.0.1:${uiPort}`;
  await fabio.waitFor(/proxy listening on/, 30000);
  // every listener accepts (/health says so only then; the first start line may precede the others)
  await until(async () => (await fetch(`${ui}/health`)).status === 200, 30000);
  const put = async (path: string, body: string) => {
    const r = await fetch(`${catalog}${path}`, { method: 'PUT', body });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`PUT ${path}: ${r.status}`);
  };
  return {
    fabio,
    catalog,
    ui,
    http,
    register: (body) => put('/v1/agent/service/register', JSON.stringify(body)),
    deregister: (id) => put(`/v1/agent/service/deregister/${id}`, ''),
    routesRaw: async () => (await fetch(`${ui}/api/routes?raw`)).text(),
    stop: () => fabio.stop(),
  };
}

/** An HTTP backend on 127.0.0.1:0 answering with its name. */
export async function backend(
  name: string,
  handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(handler ?? ((_req, res) => res.end(name)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
