import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import type { CertSourceSpec, ListenerSpec } from '../../../src/config/types.ts';
import { type CertStore, createTlsTermination } from '../../../src/proxy/tls/index.ts';
import { issueCert } from '../../helpers/certs.ts';

/**
 * Test helper: a Vault-API-compatible server on 127.0.0.1:0 with only the endpoints the `vault` and
 * `vault-pki` certificate sources use, as Vault documents them:
 *   GET  /v1/sys/internal/ui/mounts/<path>   → { data: { path: "secret/", options: { version } } }
 *   LIST /v1/<kv v1 path> | /v1/<mount>/metadata/<path>   → { data: { keys: [...] } } (404 when empty)
 *   GET  /v1/<kv v1 path>/<n> → { data: { cert, key } };  GET /v1/<mount>/data/<path>/<n> → { data: { data: {...} } }
 *   GET  /v1/auth/token/lookup-self, POST /v1/auth/token/renew-self
 *   POST /v1/<pki>/issue/<role> { common_name } → { data: { certificate, private_key, issuing_ca, ca_chain, expiration } }
 * Issued certificates are real, signed by the test CA with openssl; `expiration` is `pkiTtl` seconds
 * from now. Every request is recorded; `fail` answers every non-token request with that status.
 */

export interface FakeVault {
  readonly addr: string;
  /** Secrets by full logical path without mount prefix handling: `secret/fabio/certs/a.com`. */
  readonly kv: Map<string, Record<string, string>>;
  /** Mounts: path with trailing slash → KV version ('1' | '2'). */
  readonly mounts: Map<string, string>;
  /** Tokens accepted; the first request with another token gets 403. */
  readonly tokens: Set<string>;
  readonly calls: { method: string; path: string; token: string; body: string }[];
  count(method: string, re: RegExp): number;
  /** Options changed by tests. */
  opts: {
    mountsApi: boolean;
    fail: number;
    /** Status for renew-self (0 = renew). */
    renewFail: number;
    tokenTtl: number;
    renewable: boolean;
    pkiTtl: number;
    /** Names Vault refuses to issue (400). */
    refuse: Set<string>;
    /** Held until released: every issue request waits for it. */
    gate: Promise<void> | undefined;
  };
  close(): Promise<void>;
}

export async function fakeVault(
  ca: { certFile: string; keyFile: string; pem: string },
  dir: string,
): Promise<FakeVault> {
  const calls: FakeVault['calls'] = [];
  const kv = new Map<string, Record<string, string>>();
  const mounts = new Map<string, string>();
  const tokens = new Set<string>(['root-token']);
  const opts: FakeVault['opts'] = {
    mountsApi: true,
    fail: 0,
    renewFail: 0,
    tokenTtl: 0,
    renewable: false,
    pkiTtl: 3600,
    refuse: new Set(),
    gate: undefined,
  };
  let serial = 0;

  const mountOf = (p: string) => [...mounts.keys()].find((m) => `${p}/`.startsWith(m));
  /** KV logical path (no data/metadata segment) of a request path, and its version. */
  const logical = (p: string): { path: string; v2: boolean; meta: boolean } => {
    const m = mountOf(p);
    if (m === undefined || mounts.get(m) !== '2') return { path: p, v2: false, meta: false };
    const rest = p.slice(m.length);
    if (rest.startsWith('metadata/') || rest === 'metadata') return { path: m + rest.slice(9), v2: true, meta: true };
    if (rest.startsWith('data/')) return { path: m + rest.slice(5), v2: true, meta: false };
    return { path: p, v2: true, meta: false };
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks).toString()));
  });

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const token = String(req.headers['x-vault-token'] ?? '');
    let method = req.method ?? 'GET';
    if (method === 'GET' && u.searchParams.get('list') === 'true') method = 'LIST';
    const path = decodeURIComponent(u.pathname.replace(/^\/v1\//, '')).replace(/\/+$/, '');
    calls.push({ method, path, token, body });
    if (!tokens.has(token)) return send(res, 403, { errors: ['permission denied'] });
    if (path === 'auth/token/lookup-self')
      return send(res, 200, { data: { ttl: opts.tokenTtl, renewable: opts.renewable, id: token } });
    if (path === 'auth/token/renew-self' && opts.renewFail !== 0)
      return send(res, opts.renewFail, { errors: ['lease is not renewable'] });
    if (path === 'auth/token/renew-self')
      return send(res, 200, {
        auth: { client_token: token, lease_duration: opts.tokenTtl, renewable: opts.renewable },
      });
    if (opts.fail !== 0) return send(res, opts.fail, { errors: ['vault is sealed'] });
    if (path.startsWith('sys/internal/ui/mounts/')) {
      if (!opts.mountsApi) return send(res, 404, { errors: [] });
      const m = mountOf(path.slice('sys/internal/ui/mounts/'.length));
      if (m === undefined) return send(res, 403, { errors: ['preflight capability check returned 403'] });
      return send(res, 200, { data: { path: m, type: 'kv', options: { version: mounts.get(m) } } });
    }
    const issue = /^(.+)\/issue\/([^/]+)$/.exec(path);
    if (issue && method === 'POST') {
      const cn = String((JSON.parse(body || '{}') as { common_name?: string }).common_name ?? '');
      if (opts.gate) await opts.gate;
      if (opts.refuse.has(cn) || cn === '')
        return send(res, 400, { errors: [`common name ${cn} not allowed by this role`] });
      const c = await issueCert(dir, `pki${serial++}`, [cn], ca);
      return send(res, 200, {
        data: {
          certificate: c.pem,
          private_key: c.keyPem,
          private_key_type: 'ec',
          issuing_ca: ca.pem,
          ca_chain: [ca.pem],
          serial_number: String(serial),
          expiration: Math.floor(Date.now() / 1000) + opts.pkiTtl,
        },
      });
    }
    const l = logical(path);
    if (method === 'LIST') {
      if (l.v2 && !l.meta) return send(res, 405, { errors: ['LIST on a v2 data path'] });
      const prefix = `${l.path}/`;
      const keys = [...kv.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
      const top = [...new Set(keys.map((k) => (k.includes('/') ? `${k.split('/')[0]}/` : k)))].sort();
      if (top.length === 0) return send(res, 404, { errors: [] });
      return send(res, 200, { data: { keys: top } });
    }
    if (method === 'GET') {
      if (l.v2 && l.meta) return send(res, 405, { errors: [] });
      const secret = kv.get(l.path);
      if (secret === undefined) return send(res, 404, { errors: [] });
      return send(res, 200, l.v2 ? { data: { data: secret, metadata: { version: 1 } } } : { data: secret });
    }
    send(res, 405, { errors: ['unsupported'] });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    addr: `http://127.0.0.1:${port}`,
    kv,
    mounts,
    tokens,
    calls,
    count: (method, re) => calls.filter((c) => c.method === method && re.test(c.path)).length,
    opts,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export const listenerSpec = (strictMatch: boolean): ListenerSpec => ({
  addr: '127.0.0.1:0',
  host: '127.0.0.1',
  port: 0,
  proto: 'https',
  cs: 'cs',
  readTimeout: 0,
  writeTimeout: 0,
  idleTimeout: 0,
  strictMatch,
  tlsMin: undefined,
  tlsMax: undefined,
  tlsCiphers: [],
  proxyProto: false,
  proxyProtoTimeout: 250,
  refresh: 0,
});

export const vaultSource = (o: Partial<CertSourceSpec>): CertSourceSpec => ({
  name: 'cs',
  type: 'vault',
  cert: 'secret/fabio/certs',
  key: '',
  clientCA: '',
  caUpgCN: '',
  refresh: 1000,
  header: {},
  vaultFetchToken: '',
  ...o,
});

export async function serveStore(t: TestContext, store: CertStore, strict = false): Promise<number> {
  const term = createTlsTermination(listenerSpec(strict), store);
  const srv = tls.createServer(term.serverOptions(), (s) => {
    s.on('error', () => {});
    s.end('ok');
  });
  const detach = term.attach(srv);
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    detach();
    srv.close();
  });
  return (srv.address() as net.AddressInfo).port;
}

/** CN and serial a real TLS client gets for an SNI name (verified against `ca` when given). */
export function peer(port: number, servername: string, ca?: string): Promise<{ cn: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      ...(servername !== '' ? { servername } : {}),
      ...(ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
    });
    s.on('secureConnect', () => {
      const c = s.getPeerCertificate();
      resolve({ cn: String(c.subject?.CN), serial: c.serialNumber });
      s.destroy();
    });
    s.on('error', reject);
  });
}

export async function until<T>(fn: () => T | undefined | false, ms = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
