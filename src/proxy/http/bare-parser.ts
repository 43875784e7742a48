import { createRequire } from 'node:module';
import { rawTcp } from '../tcp/raw-handle.ts';

/**
 * Node's own HTTP/1.1 request parser (llhttp, the `HTTPParser` its http server uses) and the few
 * helpers of its http module that the bare-handle client side (bare-conn.ts) needs to behave exactly
 * like `node:http`: the method table, the header-line folding rules of IncomingMessage and the header
 * name/value checks of ServerResponse. Reached through the `_http_common` / `_http_incoming` builtin
 * modules (no DEP0111 warning, unlike `process.binding('http_parser')`). Feature-detected once like
 * the bare TCP handles (raw-handle.ts): anything missing → `bareHttp` is undefined and every plain
 * HTTP listener keeps `node:http`.
 */

/** The subset of Node's HTTPParser the bare client side calls. */
export interface LlParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  /** Bytes parsed, or an Error with `code` (HPE_*) and `bytesParsed`. */
  execute(b: Buffer): number | (Error & { code?: string; bytesParsed?: number });
  resume(): void;
  close(): void;
  [k: number]: unknown;
}

export interface BareHttp {
  newParser(): LlParser;
  /** llhttp's method table (the index onHeadersComplete gives). */
  readonly methods: readonly string[];
  /** Callback slots of the parser object. */
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly REQUEST: number;
  /** Strict parsing (the http server's default: insecureHTTPParser off). */
  readonly kLenientNone: number;
  /** IncomingMessage's rule for one header line into `headers` (duplicates joined or dropped as Node does). */
  addHeaderLine(dest: Record<string, string | string[]>, name: string, value: string): void;
  /** ServerResponse's checks: a header value Node refuses (true = invalid); a valid token (name). */
  invalidHeaderChar(v: string): boolean;
  isToken(v: string): boolean;
  /** The process's header size limit (--max-http-header-size), as Node's server uses it. */
  readonly maxHeaderSize: number;
}

/** llhttp's HPE_PAUSED: returned from on_headers_complete, the parser stops right after the head. */
export const HPE_PAUSED = 21;

type Fn = (...a: unknown[]) => unknown;

/**
 * Node's two header checks as per-character tables: both are one character class over the string
 * (`_checkIsHttpToken`: one or more token characters; `_checkInvalidHeaderChar`: any character
 * outside HTAB, 0x20-0x7e, 0x80-0xff), so each table is filled by asking Node's own function about
 * every code 0-255 (codes above 255 fail both). Same answers, without a RegExp call per header
 * (~20 per proxied request). // hot path
 */
function tables(
  tok: (v: string) => boolean,
  bad: (v: string) => boolean,
): { isToken(v: string): boolean; invalidHeaderChar(v: string): boolean } {
  const T = new Uint8Array(256);
  const H = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    T[c] = tok(ch) ? 1 : 0;
    H[c] = bad(ch) ? 0 : 1;
  }
  return {
    isToken(v: string): boolean {
      const n = v.length;
      if (n === 0) return false;
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c > 255 || T[c] === 0) return false;
      }
      return true;
    },
    invalidHeaderChar(v: string): boolean {
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        if (c > 255 || H[c] === 0) return true;
      }
      return false;
    },
  };
}

function load(): BareHttp | undefined {
  try {
    const req = createRequire(import.meta.url);
    const common = req('_http_common') as Record<string, unknown>;
    const incoming = req('_http_incoming') as { IncomingMessage?: { prototype?: Record<string, unknown> } };
    const http = req('node:http') as { maxHeaderSize?: number };
    const P = common.HTTPParser as (new () => LlParser) & Record<string, unknown>;
    const methods = common.methods as string[] | undefined;
    const add = incoming.IncomingMessage?.prototype?._addHeaderLine as Fn | undefined;
    const bad = common._checkInvalidHeaderChar as ((v: string) => boolean) | undefined;
    const tok = common._checkIsHttpToken as ((v: string) => boolean) | undefined;
    if (typeof P !== 'function' || !Array.isArray(methods) || typeof add !== 'function') return undefined;
    if (typeof bad !== 'function' || typeof tok !== 'function') return undefined;
    const slots = ['kOnHeaders', 'kOnHeadersComplete', 'REQUEST', 'kLenientNone'];
    for (const s of slots) if (typeof P[s] !== 'number') return undefined;
    for (const m of ['initialize', 'execute', 'resume', 'close'])
      if (typeof (P.prototype as Record<string, unknown>)[m] !== 'function') return undefined;
    if (typeof http.maxHeaderSize !== 'number') return undefined;
    // Probe: one request through the parser, paused after its head as bare-conn.ts relies on.
    const p = new P();
    p.initialize(P.REQUEST as number, {}, 0, P.kLenientNone as number);
    let seen: unknown[] | undefined;
    p[P.kOnHeadersComplete as number] = (...a: unknown[]) => {
      seen = a;
      return HPE_PAUSED;
    };
    const head = 'GET /p HTTP/1.1\r\nHost: h\r\n\r\n';
    const r = p.execute(Buffer.from(`${head}GET`, 'latin1'));
    p.close();
    if (!(r instanceof Error) || r.code !== 'HPE_PAUSED' || r.bytesParsed !== head.length) return undefined;
    if (seen === undefined || methods[seen[3] as number] !== 'GET' || seen[4] !== '/p') return undefined;
    const that = { joinDuplicateHeaders: false };
    const checks = tables(tok, bad);
    // The tables must agree with Node on multi-character strings too (else keep Node's functions).
    for (const v of ['', 'a', 'Content-Type', 'a b', 'x\ty', 'é', '\u0100', 'ok\x7f', 'v\r\n'])
      if (checks.isToken(v) !== tok(v) || checks.invalidHeaderChar(v) !== bad(v)) return undefined;
    return {
      newParser: () => new P(),
      methods,
      kOnHeaders: P.kOnHeaders as number,
      kOnHeadersComplete: P.kOnHeadersComplete as number,
      REQUEST: P.REQUEST as number,
      kLenientNone: P.kLenientNone as number,
      addHeaderLine: (dest, name, value) => add.call(that, name, value, dest),
      invalidHeaderChar: checks.invalidHeaderChar,
      isToken: checks.isToken,
      maxHeaderSize: http.maxHeaderSize,
    };
  } catch {
    return undefined;
  }
}

/** Node's parser and helpers, or undefined on a Node without them (then node:http serves everything). */
export const bareHttp: BareHttp | undefined = rawTcp !== undefined ? load() : undefined;

/**
 * Whether plain HTTP listeners accept on bare handles: when this Node offers both the bare TCP
 * handles and the parser, unless `FABIO_TS_BARE_HTTP=0` (or `FABIO_TS_RAW_TCP=0`) turns it off.
 */
export function bareHttpFromEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  return bareHttp !== undefined && env.FABIO_TS_BARE_HTTP !== '0' && env.FABIO_TS_RAW_TCP !== '0';
}
