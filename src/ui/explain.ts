import type { Explanation, LookupRequest, Table, Target } from '../routes/types.ts';

/** /api/explain: turns a URL plus headers into a LookupRequest and the table's decision into JSON. */

export interface ExplainInput {
  readonly url: string;
  /** Header name → value; Host and X-Forwarded-Proto influence the decision. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Splits a URL by hand (WHATWG URL would punycode and normalise the host and path, which the
 * proxy does not do). Accepts `http://host/path?q`, `https://...` (tls) and `host/path`.
 */
export function toLookupRequest(input: ExplainInput): LookupRequest | string {
  const m = /^(?:([a-zA-Z][a-zA-Z0-9+.-]*):\/\/)?([^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(input.url.trim());
  if (!m || (m[2] === '' && m[3] === '')) return 'url must look like http://host/path';
  const scheme = (m[1] ?? 'http').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return `unsupported scheme ${scheme}`;
  let host = m[2] ?? '';
  let forwardedProto: string | undefined;
  for (const [k, v] of Object.entries(input.headers)) {
    const name = k.trim().toLowerCase();
    if (name === 'host') host = v.trim();
    if (name === 'x-forwarded-proto') forwardedProto = v.trim();
  }
  return {
    host,
    path: m[3] === '' ? '/' : (m[3] ?? '/'),
    query: m[4] ?? '',
    tls: scheme === 'https',
    ...(forwardedProto !== undefined ? { forwardedProto } : {}),
  };
}

/** Parses `Name: value` lines (the UI's header box) and `header=Name:value` query parameters. */
export function parseHeaderLines(lines: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i <= 0) continue;
    out[l.slice(0, i).trim()] = l.slice(i + 1).trim();
  }
  return out;
}

function targetJson(t: Target | undefined) {
  if (!t) return undefined;
  return {
    service: t.service,
    url: t.url,
    weight: t.weight,
    tags: t.tags,
    opts: t.opts,
    ...(t.redirectCode ? { redirectCode: t.redirectCode, redirectURL: t.redirectURL } : {}),
  };
}

export function explanationJson(ex: Explanation) {
  return {
    request: ex.request,
    steps: ex.steps.map((s) => ({
      kind: s.kind,
      message: s.message,
      ...(s.host !== undefined ? { host: s.host } : {}),
      ...(s.path !== undefined ? { path: s.path } : {}),
      ...(s.hosts !== undefined ? { hosts: s.hosts } : {}),
      ...(s.target ? { target: targetJson(s.target) } : {}),
    })),
    result: ex.result
      ? {
          route: { host: ex.result.route.host, path: ex.result.route.path },
          target: targetJson(ex.result.target),
          ...(ex.result.redirectURL !== undefined ? { redirectURL: ex.result.redirectURL } : {}),
        }
      : null,
    // additive (fabio-ts): every route looked at with why it lost, and the chosen route's targets
    candidates: (ex.candidates ?? []).map((c) => ({
      host: c.host,
      path: c.path,
      outcome: c.outcome,
      reason: c.reason,
    })),
    targets: (ex.shares ?? []).map((s) => ({
      service: s.target.service,
      url: s.target.url,
      weight: s.weight,
      share: s.share,
      picked: s.picked,
      // fabio-ts (issue #15): passive outlier detection ejected it; the pick above skipped it
      ejected: s.ejected ?? false,
    })),
  };
}

/**
 * `ejected`: which targets are ejected now (by Target.key; the admin API passes the balancer's
 * view, src/proxy/outlier/balancer.ts targetEjected): they are marked and the pick skips them.
 */
export function explain(
  table: Table | undefined,
  input: ExplainInput,
  ejected?: (key: string) => boolean,
): { status: number; body: unknown } {
  const req = toLookupRequest(input);
  if (typeof req === 'string') return { status: 400, body: { error: req } };
  if (!table)
    return {
      status: 200,
      body: {
        request: req,
        steps: [{ kind: 'noroute', message: 'no routing table yet' }],
        result: null,
        candidates: [],
        targets: [],
      },
    };
  // advance: false — looking at a decision must not move the live round-robin counters (a GET,
  // which needs no Host check, has no side effect)
  return {
    status: 200,
    body: explanationJson(table.explain(req, { advance: false, ...(ejected !== undefined ? { ejected } : {}) })),
  };
}
