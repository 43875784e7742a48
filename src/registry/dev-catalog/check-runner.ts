import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CatalogState } from './catalog-state.ts';
import type { CheckRecord, CheckStatus } from './model.ts';

/**
 * Runs the checks the agent would run: HTTP (2xx passing, 429 warning, anything else or an
 * error critical), TCP (connect = passing) and TTL (critical when not refreshed within TTL).
 * The first HTTP/TCP run starts at once (Consul staggers it within the interval; a dev tool
 * should show a healthy service immediately). Also reaps services whose check stayed critical
 * longer than DeregisterCriticalServiceAfter (Consul: at least 1m, reaper every 30s).
 */

export interface RunnerOptions {
  /** Reaper period (Consul: 30 s). */
  readonly reapIntervalMs?: number;
  /** Lower bound of DeregisterCriticalServiceAfter (Consul: 1 m). */
  readonly reapMinMs?: number;
}

const MAX_OUTPUT = 4096;

export class CheckRunner {
  readonly #state: CatalogState;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<string>();
  readonly #reaper: NodeJS.Timeout;
  readonly #reapMinMs: number;
  /** Aborts probes in flight on close(), so a slow backend cannot hold the process open. */
  readonly #abort = new AbortController();
  #closed = false;

  constructor(state: CatalogState, opts: RunnerOptions = {}) {
    this.#state = state;
    this.#reapMinMs = opts.reapMinMs ?? 60_000;
    this.#reaper = setInterval(() => this.#reap(), opts.reapIntervalMs ?? 30_000);
    this.#reaper.unref();
    state.hooks = { checkAdded: (c) => this.#start(c), checkRemoved: (id) => this.#stop(id) };
  }

  /** A TTL check was updated through the API: restart its TTL clock. */
  touched(c: CheckRecord): void {
    if (c.def.type === 'ttl') this.#armTtl(c);
  }

  close(): void {
    this.#closed = true;
    this.#abort.abort();
    clearInterval(this.#reaper);
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  #start(c: CheckRecord): void {
    if (this.#closed) return;
    const d = c.def;
    if (d.type === 'ttl') this.#armTtl(c);
    else if (d.type === 'http' || d.type === 'tcp') this.#schedule(d.id, 0);
  }

  #stop(id: string): void {
    const t = this.#timers.get(id);
    if (t) clearTimeout(t);
    this.#timers.delete(id);
  }

  #armTtl(c: CheckRecord): void {
    this.#stop(c.def.id);
    const id = c.def.id;
    const t = setTimeout(() => {
      this.#timers.delete(id);
      if (this.#state.checks.get(id) === c) this.#state.updateCheck(id, 'critical', 'TTL expired');
    }, c.def.ttlMs);
    this.#timers.set(id, t);
  }

  #schedule(id: string, ms: number): void {
    this.#stop(id);
    const t = setTimeout(() => void this.#run(id), ms);
    this.#timers.set(id, t);
  }

  async #run(id: string): Promise<void> {
    const c = this.#state.checks.get(id);
    if (!c || this.#closed) return;
    if (!this.#running.has(id)) {
      this.#running.add(id);
      try {
        const r =
          c.def.type === 'http' ? await httpProbe(c, this.#abort.signal) : await tcpProbe(c, this.#abort.signal);
        // The check may have been replaced or removed while the probe ran.
        if (this.#state.checks.get(id) === c && !this.#closed) this.#state.updateCheck(id, r.status, r.output);
      } finally {
        this.#running.delete(id);
      }
    }
    if (this.#state.checks.get(id) === c && !this.#closed) this.#schedule(id, c.def.intervalMs);
  }

  #reap(): void {
    const now = Date.now();
    for (const c of [...this.#state.checks.values()]) {
      const after = c.def.deregisterAfterMs;
      if (after <= 0 || c.status !== 'critical' || c.criticalSince === undefined || !c.def.serviceId) continue;
      if (now - c.criticalSince >= Math.max(after, this.#reapMinMs)) this.#state.deregister(c.def.serviceId);
    }
  }
}

interface Probe {
  status: CheckStatus;
  output: string;
}

function httpProbe(c: CheckRecord, signal: AbortSignal): Promise<Probe> {
  const d = c.def;
  return new Promise<Probe>((resolve) => {
    let url: URL;
    try {
      url = new URL(d.http);
    } catch {
      return resolve({ status: 'critical', output: `invalid check URL "${d.http}"` });
    }
    const lib = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string[] | string> = {
      'User-Agent': 'Consul Health Check',
      Accept: 'text/plain, text/*, */*',
    };
    for (const [k, v] of Object.entries(d.header)) headers[k] = [...v];
    let settled = false;
    const done = (p: Probe) => {
      if (settled) return;
      settled = true;
      resolve(p);
    };
    const req = lib.request(
      url,
      { method: d.method, headers, agent: false, rejectUnauthorized: !d.tlsSkipVerify, timeout: d.timeoutMs, signal },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (b: Buffer) => {
          if (size < MAX_OUTPUT) chunks.push(b);
          size += b.length;
          if (size >= MAX_OUTPUT) res.destroy();
        });
        const finish = () => {
          const code = res.statusCode ?? 0;
          const body = Buffer.concat(chunks).subarray(0, MAX_OUTPUT).toString('utf8');
          const status: CheckStatus = code >= 200 && code < 300 ? 'passing' : code === 429 ? 'warning' : 'critical';
          done({ status, output: `HTTP ${d.method} ${d.http}: ${code} ${res.statusMessage ?? ''} Output: ${body}` });
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    req.on('timeout', () => {
      req.destroy();
      done({
        status: 'critical',
        output: `${d.method} "${d.http}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({
        status: 'critical',
        output: `${d.method} "${d.http}": ${err.code ?? ''} ${err.message}`.replace(/ {2,}/g, ' '),
      }),
    );
    req.end(d.body || undefined);
  });
}

function tcpProbe(c: CheckRecord, signal: AbortSignal): Promise<Probe> {
  const addr = c.def.tcp;
  const m = /^\[(.*)\]:(\d+)$/.exec(addr) ?? /^([^:]*):(\d+)$/.exec(addr);
  if (!m) return Promise.resolve({ status: 'critical', output: `dial tcp ${addr}: missing port in address` });
  if (signal.aborted) return Promise.resolve({ status: 'critical', output: `dial tcp ${addr}: canceled` });
  return new Promise<Probe>((resolve) => {
    // Not net.connect({ signal }): Node 20 never removes that abort listener, so every probe would
    // leave a listener (and this socket) on the runner's long-lived signal.
    const sock = net.connect({ host: m[1] || '127.0.0.1', port: Number(m[2]) });
    const abort = () => sock.destroy();
    signal.addEventListener('abort', abort, { once: true });
    sock.once('close', () => {
      signal.removeEventListener('abort', abort);
      resolve({ status: 'critical', output: `dial tcp ${addr}: canceled` }); // no-op once settled
    });
    sock.setTimeout(c.def.timeoutMs);
    sock.once('connect', () => {
      sock.destroy();
      resolve({ status: 'passing', output: `TCP connect ${addr}: Success` });
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve({ status: 'critical', output: `dial tcp ${addr}: i/o timeout` });
    });
    sock.once('error', (err: NodeJS.ErrnoException) =>
      resolve({
        status: 'critical',
        output: `dial tcp ${addr}: ${err.code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message}`,
      }),
    );
  });
}
