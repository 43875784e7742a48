import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileAccessLog } from '../../../src/proxy/access-log.ts';
import { protectedHeaders, upstreamHeaders } from '../../../src/proxy/http/headers.ts';
import { escapePath, normalizePath, rewritePath, splitRequestTarget } from '../../../src/proxy/http/path.ts';

const OPTS = {
  localIp: '10.0.0.1',
  clientIpHeader: 'X-Client',
  tlsHeader: 'X-Tls',
  tlsHeaderValue: 'on',
  requestIdHeader: 'X-Rid',
};
const PROTECTED = protectedHeaders(OPTS);
const names = fc.constantFrom(
  'Host',
  'Connection',
  'X-Forwarded-For',
  'Forwarded',
  'X-Real-Ip',
  'Upgrade',
  'TE',
  'X-Rid',
  'X-A',
  'x-forwarded-proto',
  'Keep-Alive',
);

test('header rules never throw, always end with one Forwarded and one XFF, never pass hop-by-hop headers', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.oneof(names, fc.string()), fc.string()), { maxLength: 12 }),
      fc.string(),
      fc.boolean(),
      fc.boolean(),
      (pairs, host, tls, ws) => {
        const raw = pairs.flat();
        const r = upstreamHeaders(
          raw,
          host,
          {
            clientIp: '1.2.3.4',
            tls,
            tlsVersion: tls ? 'tls13' : '',
            tlsCipher: tls ? 0x1301 : -1,
            httpProto: 'http/1.1',
            requestId: 'id',
          },
          { host, stripPath: '', websocket: ws },
          OPTS,
          PROTECTED,
        );
        const lower = r.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
        assert.equal(lower.filter((n) => n === 'forwarded').length, 1);
        assert.equal(lower.filter((n) => n === 'x-forwarded-for').length, 1);
        assert.equal(lower.filter((n) => n === 'host').length, 1);
        if (!ws)
          for (const h of ['keep-alive', 'upgrade', 'transfer-encoding', 'proxy-connection'])
            assert.ok(!lower.includes(h), h);
      },
    ),
    { numRuns: 500 },
  );
});

test('path helpers never throw and always produce a rooted path', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 60 }),
      fc.string({ maxLength: 8 }),
      fc.string({ maxLength: 8 }),
      (url, strip, prepend) => {
        const { rawPath } = splitRequestTarget(url);
        const p = normalizePath(rawPath.startsWith('/') ? rawPath : `/${rawPath}`);
        assert.ok(p.startsWith('/'), p);
        const r = rewritePath(p, strip, prepend);
        assert.ok(r.startsWith('/'), r);
        const e = escapePath(r);
        assert.ok(!/[\s"<>\\^`{|}]/.test(e), e);
      },
    ),
    { numRuns: 1000 },
  );
});

test('access-log compiler accepts or rejects any template with its two messages, never anything else', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (f) => {
      try {
        compileAccessLog(f);
      } catch (e) {
        assert.match((e as Error).message, /^(empty log format|invalid field "\$[A-Za-z0-9_-]+")$/);
      }
    }),
    { numRuns: 1000 },
  );
});
