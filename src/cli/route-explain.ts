import type { Explanation, LookupRequest, LookupResult, Matcher, Strategy } from '../routes/index.ts';
import { buildTable } from '../routes/index.ts';
import { boolFlag, flag, parseArgs, UsageError } from './args.ts';
import { readSource, type ToolIO, write } from './io.ts';
import { splitRequestURL } from './request-url.ts';
import { EXPLAIN_USAGE } from './usage.ts';

/** The --json shape of one pick (null when there is no route). */
export function pickJSON(r: LookupResult | undefined): unknown {
  if (r === undefined) return null;
  return {
    route: { host: r.route.host, path: r.route.path },
    target: {
      service: r.target.service,
      url: r.target.url,
      redirect:
        r.target.redirectCode !== 0 ? { code: r.target.redirectCode, url: r.redirectURL ?? r.target.url } : null,
    },
  };
}

/** The text line of one pick: target URL, `redirect <code> <url>` or `no route`. */
export function pickText(r: LookupResult | undefined): string {
  if (r === undefined) return 'no route';
  if (r.target.redirectCode !== 0) return `redirect ${r.target.redirectCode} ${r.redirectURL ?? r.target.url}`;
  return r.target.url;
}

function whyLines(ex: Explanation): string[] {
  return ex.steps.map((s) => `  ${s.message}`);
}

/**
 * `route explain ... URL`: which target a request is routed to. An https URL means the request
 * came in on a TLS listener; the Host is the authority exactly as written.
 */
export async function routeExplain(argv: readonly string[], io: ToolIO): Promise<number> {
  const a = parseArgs(argv, [
    { name: 'routes', kind: 'string' },
    { name: 'matcher', kind: 'string' },
    { name: 'strategy', kind: 'string' },
    { name: 'glob-disabled', kind: 'bool' },
    { name: 'header', kind: 'list' },
    { name: 'ejected', kind: 'list' },
    { name: 'repeat', kind: 'string' },
    { name: 'why', kind: 'bool' },
    { name: 'json', kind: 'bool' },
  ]);
  if (a.positional.length !== 1)
    throw new UsageError(`${a.positional.length === 0 ? 'missing URL' : 'too many arguments'}\n${EXPLAIN_USAGE}`);
  const matcher = flag(a, 'matcher') ?? 'prefix';
  if (matcher !== 'prefix' && matcher !== 'glob' && matcher !== 'iprefix')
    throw new UsageError(`invalid matcher ${JSON.stringify(matcher)}\n${EXPLAIN_USAGE}`);
  const strategy = flag(a, 'strategy') ?? 'rnd';
  if (strategy !== 'rnd' && strategy !== 'rr')
    throw new UsageError(`invalid strategy ${JSON.stringify(strategy)}\n${EXPLAIN_USAGE}`);
  const repeatRaw = flag(a, 'repeat');
  if (repeatRaw !== undefined && (!/^\d+$/.test(repeatRaw) || Number(repeatRaw) < 1 || Number(repeatRaw) > 1_000_000)) {
    throw new UsageError(`--repeat must be a number from 1 to 1000000\n${EXPLAIN_USAGE}`);
  }
  const headers = new Map<string, string>();
  for (const h of a.flags.get('header') ?? []) {
    const c = h.indexOf(':');
    if (c <= 0) throw new UsageError(`invalid header ${JSON.stringify(h)}: want "Name: value"\n${EXPLAIN_USAGE}`);
    headers.set(h.slice(0, c).trim().toLowerCase(), h.slice(c + 1).trim());
  }
  let url: ReturnType<typeof splitRequestURL>;
  try {
    url = splitRequestURL(a.positional[0] as string);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${EXPLAIN_USAGE}`);
  }
  const text = await readSource(flag(a, 'routes'), io, 'use --routes FILE');
  const table = buildTable(text, {
    matcher: matcher as Matcher,
    strategy: strategy as Strategy,
    globDisabled: boolFlag(a, 'glob-disabled'),
    globCacheSize: 1000,
  });
  const fwd = headers.get('x-forwarded-proto');
  const req: LookupRequest = {
    host: headers.get('host') ?? url.host,
    path: url.path,
    query: url.query,
    tls: url.tls,
    ...(fwd !== undefined ? { forwardedProto: fwd } : {}),
  };
  // --ejected URL: targets a running proxy has ejected (its /api/routes says which); the tool
  // cannot see them, so the caller names them, and the picks skip them as the proxy would
  const ejectedUrls = new Set(a.flags.get('ejected') ?? []);
  const ejected =
    ejectedUrls.size > 0 ? (key: string) => ejectedUrls.has(key.slice(key.indexOf('\u0000') + 1)) : undefined;
  const repeat = repeatRaw === undefined ? 1 : Number(repeatRaw);
  const why = boolFlag(a, 'why');
  const json = boolFlag(a, 'json');
  const picks: unknown[] = [];
  let out = '';
  for (let i = 0; i < repeat; i++) {
    const ex = table.explain(req, ejected !== undefined ? { ejected } : undefined);
    if (json) {
      const j = pickJSON(ex.result);
      picks.push(
        why && j !== null
          ? { ...(j as object), why: ex.steps.map((s) => s.message) }
          : why
            ? { route: null, why: ex.steps.map((s) => s.message) }
            : j,
      );
    } else {
      out += `${pickText(ex.result)}\n`;
      if (why) out += `${whyLines(ex).join('\n')}\n`;
    }
  }
  if (json) out = `${JSON.stringify(repeatRaw === undefined ? picks[0] : picks)}\n`;
  await write(io.stdout, out);
  return 0;
}
