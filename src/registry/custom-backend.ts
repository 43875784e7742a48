import { Agent, request } from 'undici';
import type { Logger } from '../log/logger.ts';
import type { RegistryBackend, RegistrySink } from './types.ts';

/**
 * registry.backend=custom (section (m)): polls `<scheme>://<host>/<path>[?<queryparams>]` every
 * pollinterval for a JSON array of route definitions. fabio builds the table from them directly;
 * we turn them into route text so they go through the same updater (identical-text skip, history,
 * change log). A definition that cannot be written as a route command (whitespace in a name, a quote
 * or newline in a tag or option) is skipped and logged; a failed poll keeps the last table.
 */

export interface CustomRouteDef {
  readonly cmd: string;
  readonly service?: string;
  readonly src?: string;
  readonly dst?: string;
  readonly weight?: number;
  readonly tags?: readonly string[] | null;
  readonly opts?: Readonly<Record<string, string>> | null;
}

export interface CustomBackendOptions {
  readonly url: string;
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly tlsSkipVerify: boolean;
  readonly noRouteHtml: string;
}

const word = (s: string | undefined): boolean => s !== undefined && s !== '' && !/\s|"/.test(s);
const quotable = (s: string): boolean => !/["\r\n]/.test(s);

function tagsClause(tags: readonly string[] | null | undefined): string {
  const t = (tags ?? []).map(String);
  if (t.length === 0) return '';
  if (!t.every(quotable)) throw new Error(`invalid tags ${JSON.stringify(t)}`);
  return ` tags "${t.join(',')}"`;
}

function optsClause(opts: Readonly<Record<string, string>> | null | undefined): string {
  const keys = Object.keys(opts ?? {}).sort();
  if (keys.length === 0) return '';
  const kv = keys.map((k) => `${k}=${String(opts?.[k] ?? '')}`);
  if (!kv.every((s) => quotable(s) && !/\s/.test(s))) throw new Error(`invalid opts ${JSON.stringify(opts)}`);
  return ` opts "${kv.join(' ')}"`;
}

/** One route command for a definition; throws with the reason when it cannot be expressed. */
export function routeDefToCommand(d: CustomRouteDef): string {
  const svc = d.service ?? '';
  const w = Number(d.weight ?? 0);
  if (!Number.isFinite(w)) throw new Error('invalid weight');
  switch (d.cmd) {
    case 'route add': {
      if (!word(svc) || !word(d.src) || !word(d.dst)) throw new Error('route add needs service, src and dst');
      return `route add ${svc} ${d.src} ${d.dst}${w > 0 ? ` weight ${w}` : ''}${tagsClause(d.tags)}${optsClause(d.opts)}`;
    }
    case 'route del': {
      const tags = tagsClause(d.tags);
      if (svc === '') {
        if (tags === '') throw new Error('route del needs a service or tags');
        return `route del${tags}`;
      }
      if (!word(svc)) throw new Error('invalid service');
      if (word(d.src)) return `route del ${svc} ${d.src}${word(d.dst) ? ` ${d.dst}` : ''}`;
      return `route del ${svc}${tags}`;
    }
    case 'route weight': {
      if (!word(d.src)) throw new Error('route weight needs src');
      const tags = tagsClause(d.tags);
      if (svc === '') {
        if (tags === '') throw new Error('route weight without service needs tags');
        return `route weight ${d.src} weight ${w}${tags}`;
      }
      if (!word(svc)) throw new Error('invalid service');
      return `route weight ${svc} ${d.src} weight ${w}${tags}`;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(d.cmd)}`);
  }
}

/** Route text for a list of definitions, plus one message per skipped definition. */
export function routeDefsToText(defs: readonly CustomRouteDef[]): { text: string; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  defs.forEach((d, i) => {
    try {
      lines.push(routeDefToCommand(d));
    } catch (err) {
      errors.push(`route ${i}: ${(err as Error).message}`);
    }
  });
  return { text: lines.join('\n'), errors };
}

export class CustomBackend implements RegistryBackend {
  readonly manual = undefined;
  readonly #o: CustomBackendOptions;
  readonly #log: Logger;
  readonly #agent: Agent;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #last: string | undefined;

  constructor(o: CustomBackendOptions, log: Logger) {
    this.#o = o;
    this.#log = log;
    this.#agent = new Agent({ connect: { rejectUnauthorized: !o.tlsSkipVerify, timeout: o.timeoutMs } });
  }

  async connect(): Promise<void> {}

  watch(sink: RegistrySink): void {
    if (this.#o.noRouteHtml !== '') sink.noRouteHtml(this.#o.noRouteHtml);
    const tick = async () => {
      await this.poll(sink);
      if (!this.#abort.signal.aborted) this.#timer = setTimeout(tick, this.#o.pollMs);
    };
    void tick();
  }

  /** One poll; emits when the text changed. */
  async poll(sink: RegistrySink): Promise<void> {
    try {
      const res = await request(this.#o.url, {
        dispatcher: this.#agent,
        signal: this.#abort.signal,
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: this.#o.timeoutMs,
      });
      const body = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`unexpected status ${res.statusCode}`);
      const defs = JSON.parse(body) as unknown;
      if (!Array.isArray(defs)) throw new Error('response is not a JSON array');
      const { text, errors } = routeDefsToText(defs as CustomRouteDef[]);
      for (const e of errors) this.#log.error(`error during update from custom back end - ${e}`);
      if (text === this.#last) return;
      this.#last = text;
      sink.routes({ text, cause: 'custom', index: 0 });
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      this.#log.error(`error during update from custom back end - ${(err as Error).message}`);
    }
  }

  async register(): Promise<void> {}
  async deregister(): Promise<void> {}

  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#agent.close().catch(() => {});
  }
}
