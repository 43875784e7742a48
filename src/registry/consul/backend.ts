import type { Config } from '../../config/types.ts';
import type { Logger } from '../../log/logger.ts';
import type { TextEdit } from '../../routes/index.ts';
import type { ManualStore, RegistryBackend, RegistrySink } from '../types.ts';
import { type BlockingHooks, type BlockingOptions, blockingLoop, DEFAULT_BLOCKING, sleep } from './blocking.ts';
import { ConsulClient, type ConsulClientOptions, consulClientOptions, ReceiveBuffers } from './client.ts';
import { HealthState } from './health-state.ts';
import { ConsulManualStore, ignoredSiblings, kvEntries, kvKey, manualText, noRouteHtml } from './kv.ts';
import { type RegistrationOptions, SelfRegistration } from './register.ts';
import { ServiceRoutes, type TagWarning } from './service-routes.ts';
import { ServiceWatch, vouched } from './service-watch.ts';

/**
 * The Consul backend: connect through /v1/agent/self, then three blocking watches (health state →
 * service routes, kvpath → manual overrides, noroutehtmlpath → no-route HTML), and optional
 * self-registration. Route text is `service routes + "\n" + manual overrides` (fabio's order) and is
 * emitted as soon as a response changes it; the first text waits until both parts have been read
 * once, so the first table already carries the overrides.
 *
 * Resilience: an error keeps the last text (nothing is emitted) and is logged once per state
 * change; a response with zero healthy services empties the service part only when Consul vouches
 * for it (a known leader and no ACL filtering) — see docs/compat-registry.md.
 */

export interface ConsulBackendOptions {
  readonly client: ConsulClientOptions;
  readonly retryMs: number;
  readonly timeoutMs: number;
  readonly kvpath: string;
  readonly noroutePath: string;
  readonly tagPrefix: string;
  readonly status: readonly string[];
  readonly checksRequired: 'one' | 'all';
  readonly monitors: number;
  readonly pollIntervalMs: number;
  readonly register: RegistrationOptions | undefined;
  /**
   * state (default, fabio's): one blocking query on /v1/health/state/any; service: one on
   * /v1/catalog/services plus one per routed service on /v1/health/service/<name> (service-watch.ts).
   */
  readonly watchMode?: 'state' | 'service';
  /** Loop tuning (tests shorten wait and retry). */
  readonly blocking?: Partial<Omit<BlockingOptions, 'path'>>;
}

export function consulBackendOptions(cfg: Config): ConsulBackendOptions {
  const status = cfg
    .str('registry.consul.service.status')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const watchMode = cfg.str('registry.consul.watch') === 'service' ? 'service' : 'state';
  const client = consulClientOptions(cfg);
  return {
    // One parked request per routed service: the pool must not cap them (0 = no limit).
    client: watchMode === 'service' ? { ...client, connections: 0 } : client,
    watchMode,
    retryMs: cfg.num('registry.retry'),
    timeoutMs: cfg.num('registry.timeout'),
    kvpath: cfg.str('registry.consul.kvpath'),
    noroutePath: cfg.str('registry.consul.noroutehtmlpath'),
    tagPrefix: cfg.str('registry.consul.tagprefix'),
    status: status.length ? status : ['passing'],
    checksRequired: cfg.str('registry.consul.checksRequired') === 'all' ? 'all' : 'one',
    monitors: Math.max(1, cfg.num('registry.consul.serviceMonitors')),
    pollIntervalMs: cfg.num('registry.consul.pollinterval'),
    register: cfg.bool('registry.consul.register.enabled')
      ? {
          name: cfg.str('registry.consul.register.name'),
          addr: cfg.str('registry.consul.register.addr') || cfg.ui.addr,
          defaultPort: cfg.ui.port,
          tags: cfg
            .str('registry.consul.register.tags')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          namespace: cfg.str('registry.consul.namespace'),
          checkIntervalMs: cfg.num('registry.consul.register.checkInterval'),
          checkTimeoutMs: cfg.num('registry.consul.register.checkTimeout'),
          checkTLSSkipVerify: cfg.bool('registry.consul.register.checkTLSSkipVerify'),
          https: cfg.ui.cs !== '',
        }
      : undefined,
  };
}

export class ConsulBackend implements RegistryBackend {
  readonly client: ConsulClient;
  readonly manual: ManualStore;
  readonly #o: ConsulBackendOptions;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #registration: SelfRegistration | undefined;
  #dc = '';
  #svc:
    | {
        text: string;
        warnings: readonly TagWarning[];
        edit?: TextEdit | undefined;
        /** Hands the flat copy of `text` back to the registry part that made it (RouteLineSet.adopt). */
        adopt?: ((flat: string) => void) | undefined;
      }
    | undefined;
  /** The service text and overrides of the last text emitted (the base of the next edit). */
  #emittedParts: { svc: string; man: string; text: string } | undefined;
  #man: string | undefined;
  #index = 0;
  #lastEmitted: string | undefined;
  #lastWarnings: readonly TagWarning[] | undefined;
  #warnedSiblings = '';

  constructor(o: ConsulBackendOptions, log: Logger) {
    this.#o = o;
    this.#log = log;
    this.client = new ConsulClient(o.client);
    this.manual = new ConsulManualStore(this.client, o.kvpath);
  }

  /** Datacenter reported by the agent ('' before connect). */
  get datacenter(): string {
    return this.#dc;
  }

  async connect(): Promise<void> {
    const deadline = Date.now() + this.#o.timeoutMs;
    for (;;) {
      try {
        const left = Math.max(250, deadline - Date.now());
        const res = await this.client.get('/v1/agent/self', {
          noConsistency: true,
          timeoutMs: left,
          signal: this.#abort.signal,
        });
        const self = JSON.parse(res.body) as { Config?: { Datacenter?: string } };
        this.#dc = String(self.Config?.Datacenter ?? '');
        this.#log.info(
          `consul: Connecting to ${JSON.stringify(this.client.hostPort)} in datacenter ${JSON.stringify(this.#dc)}`,
        );
        return;
      } catch (err) {
        this.#log.debug(`consul: Cannot connect to ${JSON.stringify(this.client.hostPort)}. ${(err as Error).message}`);
      }
      if (this.#abort.signal.aborted || Date.now() + this.#o.retryMs > deadline)
        throw new Error('Timeout registering backend.');
      await sleep(this.#o.retryMs, this.#abort.signal);
    }
  }

  watch(sink: RegistrySink): void {
    const signal = this.#abort.signal;
    const loop = { ...DEFAULT_BLOCKING, pollIntervalMs: this.#o.pollIntervalMs, ...this.#o.blocking };
    if (this.#o.watchMode === 'service') this.#loops.push(this.#watchServices(sink, loop, signal));
    else this.#watchState(sink, loop, signal);
    this.#watchKv(sink, loop, signal);
  }

  #watchServices(sink: RegistrySink, loop: Omit<BlockingOptions, 'path'>, signal: AbortSignal): Promise<void> {
    const w = new ServiceWatch(
      this.client,
      {
        tagPrefix: this.#o.tagPrefix,
        status: this.#o.status,
        checksRequired: this.#o.checksRequired,
        dc: this.#dc,
        loop,
      },
      this.#log,
      {
        publish: (text, warnings, index, edit) => {
          this.#svc = { text, warnings, edit, adopt: (flat) => w.adopt(flat) };
          this.#emit(sink, 'consul', index);
        },
        error: (err, first) => {
          // the first failure of an episode at WARN, the rest at DEBUG (one line per episode at INFO)
          if (first) this.#log.warn(`consul: Error fetching health state. ${errText(err)}`);
          else this.#log.debug(`consul: Still cannot fetch health state. ${errText(err)}`);
        },
        recovered: () => this.#log.info('consul: Health state fetched again; routes are live'),
        reset: (first) => {
          if (first) this.#log.info('consul: Index went backwards; re-reading the catalog');
        },
        misbehaviour: misbehaviourHooks(this.#log, '/v1/catalog/services'),
      },
    );
    return w.run(signal);
  }

  #watchState(sink: RegistrySink, loop: Omit<BlockingOptions, 'path'>, signal: AbortSignal): void {
    const routes = new ServiceRoutes(
      this.client,
      {
        tagPrefix: this.#o.tagPrefix,
        status: this.#o.status,
        checksRequired: this.#o.checksRequired,
        dc: this.#dc,
        monitors: this.#o.monitors,
      },
      this.#log,
    );
    const health = new HealthState({
      tagPrefix: this.#o.tagPrefix,
      status: this.#o.status,
      checksRequired: this.#o.checksRequired,
    });
    let lastBody: Buffer | string | undefined;
    let rejected = new Set<string>();
    const path = '/v1/health/state/any';
    // lastBody is the base of the next incremental read: answers are received into the other buffer
    const into = new ReceiveBuffers(() => lastBody);
    this.#loops.push(
      blockingLoop(
        this.client,
        { ...loop, path, into },
        {
          onResponse: async (res, index) => {
            // A blocking read that timed out returns the same body: nothing to parse (4 MB at 15k checks).
            // Read from the bytes: a 44 MB answer (150,000 checks) is never decoded as a whole.
            const body = res.bytes ?? res.body;
            if (sameBody(body, lastBody)) return;
            const read = health.prepare(body);
            rejected = logRejected(this.#log, path, read.rejected, rejected);
            const r = await routes.update(read.healthy, signal, vouched(res), read.changed);
            // Only an answer that was applied becomes the base of the next incremental read.
            read.commit();
            // after the first answer: the spare buffer, outside the next change's read
            if (lastBody === undefined) setTimeout(() => into.reserve(), 0).unref();
            lastBody = body;
            if (!r.changed && this.#svc !== undefined) return;
            this.#svc = { text: r.text, warnings: r.warnings, edit: r.edit, adopt: (flat) => routes.adopt(flat) };
            this.#emit(sink, 'consul', index);
          },
          onReset: (first) => {
            if (first) this.#log.info('consul: Index went backwards; re-reading the catalog');
            lastBody = undefined;
            health.reset();
            routes.reset();
          },
          onError: (err, first) => {
            // the first failure of an episode at WARN, the rest at DEBUG (one line per episode at INFO)
            if (first) this.#log.warn(`consul: Error fetching health state. ${errText(err)}`);
            else this.#log.debug(`consul: Still cannot fetch health state. ${errText(err)}`);
          },
          onRecover: (ep) =>
            this.#log.info(`consul: Health state fetched again after ${times(ep.errors)} failed; routes are live`),
          ...misbehaviourHooks(this.#log, path),
        },
        signal,
      ),
    );
  }

  #watchKv(sink: RegistrySink, loop: Omit<BlockingOptions, 'path'>, signal: AbortSignal): void {
    const manPrefix = kvKey(this.#o.kvpath);
    this.#loops.push(
      blockingLoop(
        this.client,
        { ...loop, path: `/v1/kv/${manPrefix}`, query: { recurse: true }, allow: [404] },
        {
          onResponse: (res, index) => {
            const entries = kvEntries(res);
            const siblings = ignoredSiblings(entries, manPrefix).join(', ');
            if (siblings !== '' && siblings !== this.#warnedSiblings) {
              this.#log.warn(`consul: Ignoring keys next to ${this.#o.kvpath} (fabio would apply them): ${siblings}`);
            }
            this.#warnedSiblings = siblings;
            const text = manualText(entries, manPrefix);
            if (text === this.#man) return;
            this.#man = text;
            this.#emit(sink, 'kv', index);
          },
          onError: (err, first) => {
            if (first) this.#log.warn(`consul: Error fetching config from ${this.#o.kvpath}. ${errText(err)}`);
            // Unreadable overrides (e.g. an ACL without key:read) must not hold back the first table.
            if (this.#man === undefined) {
              this.#man = '';
              this.#emit(sink, 'kv', 0);
            }
          },
          onRecover: (ep) =>
            this.#log.info(`consul: Config from ${this.#o.kvpath} fetched again after ${times(ep.errors)} failed`),
          ...misbehaviourHooks(this.#log, `/v1/kv/${manPrefix}`),
        },
        signal,
      ),
    );
    const htmlPrefix = kvKey(this.#o.noroutePath);
    let html: string | undefined;
    this.#loops.push(
      blockingLoop(
        this.client,
        { ...loop, path: `/v1/kv/${htmlPrefix}`, query: { recurse: true }, allow: [404] },
        {
          onResponse: (res) => {
            const next = noRouteHtml(kvEntries(res), htmlPrefix);
            if (next === html) return;
            if (next === '' && html === undefined) {
              html = next;
              return;
            }
            html = next;
            this.#log.info(next === '' ? 'Unset noroute HTML' : `Set noroute HTML (${Buffer.byteLength(next)} bytes)`);
            sink.noRouteHtml(next);
          },
          onError: (err, first) => {
            if (first)
              this.#log.warn(`consul: Error fetching noroute HTML from ${this.#o.noroutePath}. ${errText(err)}`);
          },
          onRecover: (ep) =>
            this.#log.info(
              `consul: Noroute HTML from ${this.#o.noroutePath} fetched again after ${times(ep.errors)} failed`,
            ),
          ...misbehaviourHooks(this.#log, `/v1/kv/${htmlPrefix}`),
        },
        signal,
      ),
    );
  }

  #emit(sink: RegistrySink, cause: string, index: number): void {
    this.#index = Math.max(this.#index, index);
    if (this.#svc === undefined || this.#man === undefined) return;
    const text = `${this.#svc.text}\n${this.#man}`;
    // unchanged text with changed tag warnings is still sent: /api/warnings follows the catalog
    if (text === this.#lastEmitted && this.#svc.warnings === this.#lastWarnings) return;
    this.#lastEmitted = text;
    this.#lastWarnings = this.#svc.warnings;
    // the service lines' edit is an edit of the whole text when the overrides after them are unchanged
    const before = this.#emittedParts;
    const e = this.#svc.edit;
    const edit =
      before !== undefined && e !== undefined && e.base === before.svc && before.man === this.#man
        ? { base: before.text, hunks: e.hunks }
        : undefined;
    // One flat copy of the whole text (a slice flattens it; the table build reads it flat), whose
    // service part becomes the registry's base of its next edit: not a second copy of those lines.
    const svc = this.#svc.adopt === undefined ? this.#svc.text : text.slice(0, this.#svc.text.length);
    this.#svc.adopt?.(svc);
    this.#svc = { ...this.#svc, text: svc };
    this.#emittedParts = { svc, man: this.#man, text };
    // always a list, [] included: an empty list clears the warnings of services that went away
    sink.routes({ text, cause, index, tagWarnings: this.#svc.warnings, edit });
  }

  async register(aliases: readonly string[]): Promise<void> {
    if (!this.#o.register) return;
    this.#registration ??= new SelfRegistration(this.client, this.#o.register, this.#log);
    await this.#registration.sync(aliases);
  }

  async deregister(): Promise<void> {
    await this.#registration?.deregisterAll();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#loops);
    await this.#registration?.deregisterAll().catch(() => {});
    await this.client.close().catch(() => {});
  }
}

/** Whether an answer's body is the last one's (bytes or text, as the client gave them). */
function sameBody(a: Buffer | string, b: Buffer | string | undefined): boolean {
  if (b === undefined) return false;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.length === b.length && a.equals(b);
}

/** `1 read` / `N reads`: the repeat count of an episode's summary line. */
const times = (n: number): string => (n === 1 ? '1 read' : `${n} reads`);

/**
 * Logging of a watch's misbehaviour (early answers to blocking reads, repeated index resets): one
 * line when it starts, one summary with the counts when the watch is calm again.
 */
export function misbehaviourHooks(log: Logger, path: string): Pick<BlockingHooks, 'onEarly' | 'onCalm'> {
  return {
    onEarly: (index) =>
      log.warn(
        `consul: ${path} answered a blocking read at once without a newer index (X-Consul-Index ${index}); backing off`,
      ),
    onCalm: (ep) => {
      if (ep.early === 0 && ep.resets <= 1) return;
      const parts: string[] = [];
      if (ep.early > 0) parts.push(`${ep.early} early answers`);
      if (ep.resets > 0) parts.push(`index went backwards ${ep.resets} times`);
      log.info(`consul: ${path} is calm again (${parts.join(', ')})`);
    },
  };
}

/** Malformed entries of an answer: one warning per entry when it first appears, a few at most. */
function logRejected(log: Logger, path: string, rejected: readonly string[], before: ReadonlySet<string>): Set<string> {
  const now = new Set(rejected);
  const fresh = rejected.filter((r) => !before.has(r));
  for (const r of fresh.slice(0, MAX_REJECT_LINES)) log.warn(`consul: Ignoring a malformed entry of ${path}: ${r}`);
  if (fresh.length > MAX_REJECT_LINES)
    log.warn(`consul: Ignoring ${fresh.length - MAX_REJECT_LINES} more malformed entries of ${path}`);
  return now;
}

const MAX_REJECT_LINES = 10;

function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error && !err.message.includes(cause.message)
      ? `${err.message}: ${cause.message}`
      : err.message;
  }
  return String(err);
}
