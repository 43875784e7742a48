import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../log/logger.ts';

/**
 * The few Vault HTTP API calls the `vault` and `vault-pki` certificate sources need, over node:http(s)
 * (so `VAULT_CACERT` can be honoured without a custom fetch dispatcher). Configuration comes from
 * Vault's own environment variables, as the Go client fabio uses reads them: `VAULT_ADDR` (default
 * `https://127.0.0.1:8200`), `VAULT_TOKEN`, `VAULT_CACERT`, `VAULT_SKIP_VERIFY`. `vaultfetchtoken=`
 * (`env:VAR` or `file:/path`) names where the token is re-read before each use, so a token rotated
 * by an agent is picked up without a restart.
 *
 * The token is kept alive: after its first use it is looked up (`auth/token/lookup-self`) and, when
 * renewable with a TTL, renewed (`auth/token/renew-self`) at half of its remaining TTL, again and
 * again. A renewal that fails is logged once per episode and retried in 5 s.
 */

/** A Vault answer that is not 2xx: the status and Vault's `errors` joined. */
export class VaultError extends Error {
  readonly status: number;
  constructor(method: string, path: string, status: number, detail: string) {
    super(`vault: ${method} /v1/${path}: HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
  }
}

const TIMEOUT = 10_000;
/** Certificates and KV listings are small; a larger answer is a misbehaving server. */
const MAX_BODY = 4 << 20;
const RENEW_RETRY = 5_000;
const RENEW_RETRY_MAX = 300_000;

export type Env = Readonly<Record<string, string | undefined>>;

export class VaultClient {
  readonly #addr: URL;
  readonly #agent: http.Agent;
  readonly #fetchToken: string;
  readonly #env: Env;
  readonly #log: Logger;
  #token: string;
  /** The token whose renewal is scheduled (a new token restarts the cycle). */
  #kept = '';
  #timer: NodeJS.Timeout | undefined;
  #renewFailure = '';
  #retryMs = RENEW_RETRY;
  #closed = false;

  constructor(opts: { fetchToken: string; env: Env; log: Logger }) {
    const env = opts.env;
    this.#env = env;
    this.#log = opts.log;
    this.#fetchToken = opts.fetchToken;
    this.#addr = new URL(env.VAULT_ADDR || 'https://127.0.0.1:8200');
    const skip = /^(1|t|true)$/i.test(env.VAULT_SKIP_VERIFY ?? '');
    this.#agent =
      this.#addr.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            rejectUnauthorized: !skip,
            ...(env.VAULT_CACERT ? { ca: readFileSync(env.VAULT_CACERT, 'utf8') } : {}),
          })
        : new http.Agent({ keepAlive: true });
    this.#token = env.VAULT_TOKEN ?? '';
  }

  /** `vault` or `vault` plus the address, for log lines (no token). */
  get addr(): string {
    return this.#addr.origin;
  }

  /** Re-reads the token from `vaultfetchtoken` (if set); throws when that source cannot be read. */
  #currentToken(): string {
    const f = this.#fetchToken;
    if (f === '') return this.#token;
    let t: string | undefined;
    if (f.startsWith('env:')) t = this.#env[f.slice(4)];
    else if (f.startsWith('file:')) t = readFileSync(f.slice(5), 'utf8');
    else throw new Error(`vault: vaultfetchtoken must be env:<VAR> or file:<path>, got ${JSON.stringify(f)}`);
    t = (t ?? '').trim();
    if (t !== '') this.#token = t;
    return this.#token;
  }

  /** One API call; resolves with the parsed JSON body ({} for 204). */
  async call(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const token = this.#currentToken();
    const out = await this.#request(method, path, token, body);
    if (token !== '' && token !== this.#kept && !this.#closed) {
      this.#kept = token;
      clearTimeout(this.#timer);
      void this.#lookup(token);
    }
    return out;
  }

  #request(method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
    const u = new URL(`/v1/${path.replace(/^\/+/, '')}`, this.#addr);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const mod = u.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        u,
        {
          method,
          agent: this.#agent,
          timeout: TIMEOUT,
          headers: {
            ...(token !== '' ? { 'x-vault-token': token } : {}),
            ...(payload !== undefined
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on('data', (d: Buffer) => {
            n += d.length;
            if (n > MAX_BODY) {
              req.destroy(new Error(`vault: ${method} ${u.pathname}: answer larger than ${MAX_BODY} bytes`));
              return;
            }
            chunks.push(d);
          });
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> = {};
            try {
              if (text.trim() !== '') json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              if ((res.statusCode ?? 0) < 300)
                return reject(new Error(`vault: ${method} ${u.pathname}: answer is not JSON`));
            }
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              const errs = Array.isArray(json.errors) ? json.errors.map(String).join(', ') : '';
              return reject(new VaultError(method, path, status, errs));
            }
            resolve(json !== null && typeof json === 'object' ? json : {});
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`vault: ${method} ${u.pathname}: no answer in ${TIMEOUT} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async #lookup(token: string): Promise<void> {
    try {
      const r = await this.#request('GET', 'auth/token/lookup-self', token);
      const d = (r.data ?? {}) as { ttl?: unknown; renewable?: unknown };
      this.#schedule(token, Number(d.ttl), d.renewable === true);
    } catch (e) {
      this.#renewFailed(token, `lookup-self: ${(e as Error).message}`);
    }
  }

  /** Renew at half the remaining TTL; a token without TTL (root) or not renewable needs nothing. */
  #schedule(token: string, ttlSeconds: number, renewable: boolean): void {
    if (this.#closed || token !== this.#kept || !renewable || !(ttlSeconds > 0)) return;
    const ms = Math.max(500, (ttlSeconds * 1000) / 2);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#renew(token), ms).unref();
  }

  async #renew(token: string): Promise<void> {
    if (this.#closed || token !== this.#kept) return;
    try {
      const r = await this.#request('POST', 'auth/token/renew-self', token, {});
      const a = (r.auth ?? {}) as { lease_duration?: unknown; renewable?: unknown };
      if (this.#renewFailure !== '') this.#log.info(`vault: token renewed again at ${this.addr}`);
      this.#renewFailure = '';
      this.#retryMs = RENEW_RETRY;
      this.#schedule(token, Number(a.lease_duration), a.renewable === true);
    } catch (e) {
      this.#renewFailed(token, `renew-self: ${(e as Error).message}`);
    }
  }

  #renewFailed(token: string, message: string): void {
    if (this.#closed || token !== this.#kept) return;
    // one line per episode: the same failure again is DEBUG
    if (message !== this.#renewFailure) this.#log.error(`vault: cannot keep the token alive: ${message}`);
    else this.#log.debug(`vault: cannot keep the token alive: ${message}`);
    this.#renewFailure = message;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#renew(token), this.#retryMs).unref();
    this.#retryMs = Math.min(this.#retryMs * 2, RENEW_RETRY_MAX);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#agent.destroy();
  }
}
