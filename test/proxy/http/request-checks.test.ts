import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyError } from '../../../src/proxy/errors.ts';
import type { Req } from '../../../src/proxy/http/forward.ts';
import { checkRequest, MAX_REQUEST_HEADERS } from '../../../src/proxy/http/request-checks.ts';

/** A request as Node's HTTP/1 parser hands it over (first Host kept in `headers`). */
function h1(url: string, raw: string[], version = '1.1'): Req {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) headers[(raw[i] as string).toLowerCase()] ??= raw[i + 1] as string;
  return { url, rawHeaders: raw, headers, httpVersion: version, httpVersionMajor: 1 } as unknown as Req;
}

const cases: { name: string; req: Req; host?: string; error?: string }[] = [
  { name: 'origin-form routes by Host', req: h1('/x', ['Host', 'a.test']), host: 'a.test' },
  {
    name: 'absolute-form routes by its authority',
    req: h1('http://b.test:81/x', ['Host', 'a.test']),
    host: 'b.test:81',
  },
  { name: 'absolute-form drops userinfo', req: h1('http://u:p@b.test/x', ['Host', 'a.test']), host: 'b.test' },
  { name: 'identical repeated Host passes', req: h1('/x', ['Host', 'a.test', 'host', 'a.test']), host: 'a.test' },
  { name: 'differing Host is a 400', req: h1('/x', ['Host', 'a.test', 'Host', 'b.test']), error: 'BAD_REQUEST' },
  { name: 'HTTP/1.0 without Host routes by path', req: h1('/x', [], '1.0'), host: '' },
  {
    name: 'HTTP/2 uses :authority',
    req: { url: '/x', rawHeaders: [], headers: {}, authority: 'c.test', httpVersionMajor: 2 } as unknown as Req,
    host: 'c.test',
  },
  {
    name: 'one header line over the bound is a 431',
    req: h1('/x', ['Host', 'a', ...Array.from({ length: 2 * MAX_REQUEST_HEADERS }, (_, i) => (i % 2 ? '1' : 'a'))]),
    error: 'HEADERS_TOO_LARGE',
  },
  {
    name: 'exactly at the bound passes',
    req: h1('/x', ['Host', 'a', ...Array.from({ length: 2 * MAX_REQUEST_HEADERS - 2 }, (_, i) => (i % 2 ? '1' : 'a'))]),
    host: 'a',
  },
];

for (const c of cases)
  test(`checkRequest: ${c.name}`, () => {
    const r = checkRequest(c.req);
    if (c.error !== undefined) {
      assert.ok(r instanceof ProxyError);
      assert.equal(r.code, c.error);
    } else assert.deepEqual(r, { host: c.host });
  });
