import { parseAccessRules } from './access-rules.ts';
import type { MTarget } from './model.ts';
import type { Target, Warning } from './types.ts';

/**
 * Turns a parsed target into the frozen Target the data plane reads. Option problems (bad redirect
 * code, bad access rules) become warnings and leave the option without effect, as fabio does.
 */
function warn(warnings: Warning[], t: MTarget, message: string): void {
  warnings.push({ line: t.line, service: t.service, message });
}

// No closures in here: this runs once per target of a build (100k+ times).
export function makeTarget(t: MTarget, weight: number, warnings: Warning[], keyPrefix: string): Target {
  const o = t.opts;
  let redirectCode = 0;
  const rc = o.redirect;
  if (rc !== undefined) {
    if (!/^[+-]?\d+$/.test(rc)) warn(warnings, t, `redirect status code should be numeric in 3xx range. Got: ${rc}`);
    else if (Number(rc) < 300 || Number(rc) > 399)
      warn(warnings, t, `redirect status code should be in 3xx range. Got: ${rc}`);
    else redirectCode = Number(rc);
  }
  let accessRules: Target['accessRules'];
  if (o.allow !== undefined || o.deny !== undefined) {
    try {
      accessRules = parseAccessRules(o);
    } catch (err) {
      warn(warnings, t, `failed to process access rules: ${(err as Error).message}`);
    }
  }
  const target: Target = {
    service: t.service,
    url: t.url,
    scheme: t.scheme,
    hostPort: t.hostPort,
    hostname: t.hostname,
    port: t.port,
    urlPath: t.urlPath,
    urlQuery: t.urlQuery,
    // the parser made these for this command alone, so they are frozen in place, not copied
    tags: Object.freeze(t.tags),
    opts: Object.freeze(o),
    stripPath: o.strip ?? '',
    prependPath: o.prepend ?? '',
    host: o.host ?? '',
    authScheme: o.auth ?? '',
    redirectCode,
    redirectURL: redirectCode !== 0 ? t.url : '',
    fixedWeight: t.fixedWeight,
    weight,
    tlsSkipVerify: o.tlsskipverify === 'true',
    proxyProto: o.pxyproto === 'true',
    accessRules,
    key: keyPrefix + t.url,
  };
  return Object.freeze(target);
}
