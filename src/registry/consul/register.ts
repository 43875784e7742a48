import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { trySplitHostPort } from '../../go/host-port.ts';
import { localIP } from '../../go/local-ip.ts';
import type { Logger } from '../../log/logger.ts';
import type { ConsulClient } from './client.ts';

/**
 * Self-registration (section (j) 5): fabio-ts registers itself (and every `register=<name>` alias
 * found in the table) with a TTL check and an HTTP check of the admin /health endpoint, updates the
 * TTL immediately and every 10 s, re-registers when the agent no longer lists the service (agent
 * restart, anti-entropy loss), and deregisters everything on shutdown.
 */

export interface RegistrationOptions {
  readonly name: string;
  /** registry.consul.register.addr: host:port (empty or non-IP host → the local IP). */
  readonly addr: string;
  /** Port used when addr has none (the ui.addr port). */
  readonly defaultPort: number;
  readonly tags: readonly string[];
  readonly namespace: string;
  readonly checkIntervalMs: number;
  readonly checkTimeoutMs: number;
  readonly checkTLSSkipVerify: boolean;
  /** The admin listener terminates TLS (ui.addr has cs=): the HTTP check uses https. */
  readonly https: boolean;
  /** TTL refresh period (10 s; shorter in tests). */
  readonly refreshMs?: number;
  readonly hostname?: string;
}

/** Go's time.Duration.String for whole milliseconds: 1s, 1.5s, 500ms, 1m0s, 1h0m0s. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}

/**
 * host and port of register.addr ('' host when absent or not an IP literal). Laxer than fabio, which
 * refuses an address without a port: here the port may be left out (the ui.addr port is used), and
 * an address that does not split, or has a port that is not all digits, keeps no host.
 */
export function splitRegisterAddr(addr: string, defaultPort: number): { host: string; port: number } {
  const hp = trySplitHostPort(addr);
  if (hp)
    return /^\d+$/.test(hp.port) ? { host: ipOnly(hp.host), port: Number(hp.port) } : { host: '', port: defaultPort };
  // no port written: the whole address (brackets removed) is the host
  const bare = trySplitHostPort(`${addr}:0`);
  return { host: bare ? ipOnly(bare.host) : '', port: defaultPort };
}

const ipOnly = (host: string): string => (isIP(host) ? host : '');

export interface ServicePayload {
  readonly ID: string;
  readonly Name: string;
  readonly Address: string;
  readonly Port: number;
  readonly Tags: readonly string[];
  readonly Namespace?: string;
  readonly Checks: readonly Record<string, unknown>[];
}

/** The registration body for `name` exactly as fabio sends it. */
export function servicePayload(name: string, o: RegistrationOptions, ip = ''): ServicePayload {
  const { host, port } = splitRegisterAddr(o.addr, o.defaultPort);
  const address = host || ip || localIP() || '127.0.0.1';
  const id = `${name}-${o.hostname ?? hostname()}-${port}`;
  const hp = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  return {
    ID: id,
    Name: name,
    Address: address,
    Port: port,
    Tags: [...o.tags],
    ...(o.namespace ? { Namespace: o.namespace } : {}),
    Checks: [
      { CheckID: `${id}-ttl`, TTL: '15s', DeregisterCriticalServiceAfter: '1m0s' },
      {
        HTTP: `${o.https ? 'https' : 'http'}://${hp}/health`,
        Interval: goDuration(o.checkIntervalMs),
        Timeout: goDuration(o.checkTimeoutMs),
        TLSSkipVerify: o.checkTLSSkipVerify,
      },
    ],
  };
}

export class SelfRegistration {
  readonly #client: ConsulClient;
  readonly #opts: RegistrationOptions;
  readonly #log: Logger;
  /** Registered payloads by service name (fabio's name first, then aliases). */
  readonly #services = new Map<string, ServicePayload>();
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();

  constructor(client: ConsulClient, opts: RegistrationOptions, log: Logger) {
    this.#client = client;
    this.#opts = opts;
    this.#log = log;
  }

  /** Registers fabio-ts and exactly the given aliases (removed aliases are deregistered). */
  sync(aliases: readonly string[]): Promise<void> {
    this.#busy = this.#busy.then(() => this.#sync(aliases));
    return this.#busy;
  }

  async #sync(aliases: readonly string[]): Promise<void> {
    const want = new Set([this.#opts.name, ...aliases.filter((a) => a !== '')]);
    for (const [name, p] of this.#services) {
      if (!want.has(name)) {
        this.#services.delete(name);
        await this.#deregister(p);
      }
    }
    for (const name of want) {
      if (this.#services.has(name)) continue;
      const p = servicePayload(name, this.#opts);
      this.#services.set(name, p);
      await this.#register(p);
    }
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#refresh(), this.#opts.refreshMs ?? 10_000);
      this.#timer.unref();
    }
  }

  async #register(p: ServicePayload): Promise<void> {
    try {
      await this.#client.put('/v1/agent/service/register', p);
      this.#log.info(`consul: Registered fabio as ${JSON.stringify(p.Name)}`);
      await this.#ttl(p);
    } catch (err) {
      this.#log.error(
        `consul: Cannot register fabio as ${JSON.stringify(p.Name)} in Consul. ${(err as Error).message}`,
      );
    }
  }

  async #ttl(p: ServicePayload): Promise<void> {
    await this.#client.put(`/v1/agent/check/update/${encodeURIComponent(`${p.ID}-ttl`)}`, {
      Status: 'passing',
      Output: '',
    });
  }

  async #deregister(p: ServicePayload): Promise<void> {
    try {
      await this.#client.put(`/v1/agent/service/deregister/${encodeURIComponent(p.ID)}`, undefined);
      this.#log.info(`consul: Deregistered fabio as ${JSON.stringify(p.Name)}`);
    } catch (err) {
      this.#log.error(
        `consul: Cannot deregister fabio as ${JSON.stringify(p.Name)} from Consul. ${(err as Error).message}`,
      );
    }
  }

  /** TTL update and re-registration of what the agent lost. */
  #refresh(): Promise<void> {
    this.#busy = this.#busy.then(async () => {
      let listed: Record<string, unknown> | undefined;
      try {
        const res = await this.#client.get('/v1/agent/services', { noConsistency: true });
        listed = JSON.parse(res.body) as Record<string, unknown>;
      } catch (err) {
        this.#log.warn(`consul: Cannot list agent services. ${(err as Error).message}`);
        return;
      }
      for (const p of this.#services.values()) {
        if (!listed || !(p.ID in listed)) {
          await this.#register(p);
          continue;
        }
        await this.#ttl(p).catch((err: Error) =>
          this.#log.warn(`consul: Cannot update TTL of ${JSON.stringify(p.Name)}. ${err.message}`),
        );
      }
    });
    return this.#busy;
  }

  /** Deregisters everything and stops the TTL updates. */
  deregisterAll(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#busy = this.#busy.then(async () => {
      for (const p of this.#services.values()) await this.#deregister(p);
      this.#services.clear();
    });
    return this.#busy;
  }
}
