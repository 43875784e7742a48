import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type DevCatalog, startDevCatalog } from '../../src/registry/dev-catalog/index.ts';

/**
 * The embedded catalog in the test process (it outlives the fabio-ts process under test, so the
 * test can ask it afterwards what fabio-ts left registered), behind a gate: a forwarding server
 * that can hold the requests of one kind (the health watch: "Consul never sends the first table";
 * the deregistration: "fabio-ts is deregistering now") until the test releases them.
 */
export interface GatedCatalog {
  readonly catalog: DevCatalog;
  /** host:port of the gate, for -registry.consul.addr. */
  readonly addr: string;
  /** Holds every request whose path starts with prefix until release(prefix). */
  hold(prefix: string): void;
  release(prefix: string): void;
  /** Resolves when a request whose path starts with prefix reaches the gate (held or not). */
  arrived(prefix: string): Promise<void>;
  /** Service names registered in the catalog (GET /v1/agent/services). */
  services(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startGatedCatalog(): Promise<GatedCatalog> {
  const catalog = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
  const holds = new Map<string, (() => void)[]>();
  const seen: string[] = [];
  const waiters: { prefix: string; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request(
      { host: '127.0.0.1', port: catalog.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const gate = createServer((req, res) => {
    const path = req.url ?? '';
    seen.push(path);
    for (const w of waiters.filter((x) => path.startsWith(x.prefix))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    const held = [...holds.entries()].find(([p]) => path.startsWith(p));
    if (held) held[1].push(() => forward(req, res));
    else forward(req, res);
  });
  gate.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  return {
    catalog,
    addr: `127.0.0.1:${(gate.address() as AddressInfo).port}`,
    hold: (prefix) => holds.set(prefix, holds.get(prefix) ?? []),
    release(prefix) {
      const list = holds.get(prefix) ?? [];
      holds.delete(prefix);
      for (const go of list) go();
    },
    arrived: (prefix) =>
      seen.some((p) => p.startsWith(prefix))
        ? Promise.resolve()
        : new Promise((resolve) => waiters.push({ prefix, resolve })),
    async services() {
      const r = await fetch(`${catalog.url}/v1/agent/services`);
      return Object.values((await r.json()) as Record<string, { Service: string }>).map((s) => s.Service);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => gate.close(() => r()));
      await catalog.close();
    },
  };
}
