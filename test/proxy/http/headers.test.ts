import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  detectScheme,
  type HeaderOptions,
  isHopByHopResponse,
  isToken,
  protectedHeaders,
  stsValue,
  upstreamHeaders,
} from '../../../src/proxy/http/headers.ts';

const OPTS: HeaderOptions = { localIp: '', clientIpHeader: '', tlsHeader: '', tlsHeaderValue: '', requestIdHeader: '' };
const CTX = { clientIp: '1.2.3.4', tls: false, tlsVersion: '', tlsCipher: -1, httpProto: 'http/1.1', requestId: 'rid' };

function run(
  raw: string[],
  o: Partial<{
    opts: Partial<HeaderOptions>;
    ctx: Partial<typeof CTX>;
    strip: string;
    ws: boolean;
    hostOut: string;
  }> = {},
) {
  const opts = { ...OPTS, ...o.opts };
  const host =
    raw.find((_, i) => i % 2 === 0 && raw[i]?.toLowerCase() === 'host') !== undefined
      ? (raw[raw.findIndex((v, i) => i % 2 === 0 && v.toLowerCase() === 'host') + 1] as string)
      : '';
  const r = upstreamHeaders(
    raw,
    host,
    { ...CTX, ...o.ctx },
    { host: o.hostOut ?? host, stripPath: o.strip ?? '', websocket: o.ws ?? false },
    opts,
    protectedHeaders(opts),
  );
  const m = new Map<string, string[]>();
  for (let i = 0; i < r.headers.length; i += 2) {
    const k = (r.headers[i] as string).toLowerCase();
    m.set(k, [...(m.get(k) ?? []), r.headers[i + 1] as string]);
  }
  return { get: (k: string) => m.get(k.toLowerCase())?.join(' | '), scheme: r.scheme, names: [...m.keys()] };
}

const cases: {
  name: string;
  raw: string[];
  o?: Parameters<typeof run>[1];
  want: Record<string, string | undefined>;
}[] = [
  { name: 'XFF set when absent', raw: ['Host', 'a.com'], want: { 'x-forwarded-for': '1.2.3.4' } },
  {
    name: 'XFF appended',
    raw: ['Host', 'a', 'X-Forwarded-For', '9.9.9.9'],
    want: { 'x-forwarded-for': '9.9.9.9, 1.2.3.4' },
  },
  {
    name: 'XFF multiple values joined',
    raw: ['Host', 'a', 'X-Forwarded-For', '8.8.8.8', 'x-forwarded-for', '9.9.9.9'],
    want: { 'x-forwarded-for': '8.8.8.8, 9.9.9.9, 1.2.3.4' },
  },
  { name: 'X-Real-Ip set when absent', raw: ['Host', 'a'], want: { 'x-real-ip': '1.2.3.4' } },
  { name: 'X-Real-Ip from client kept', raw: ['Host', 'a', 'X-Real-Ip', '5.5.5.5'], want: { 'x-real-ip': '5.5.5.5' } },
  {
    name: 'clientip header overwrites',
    raw: ['Host', 'a', 'X-Client', 'x'],
    o: { opts: { clientIpHeader: 'X-Client' } },
    want: { 'x-client': '1.2.3.4' },
  },
  {
    name: 'clientip = X-Real-Ip is not applied',
    raw: ['Host', 'a', 'X-Real-Ip', '5.5.5.5'],
    o: { opts: { clientIpHeader: 'X-Real-Ip' } },
    want: { 'x-real-ip': '5.5.5.5' },
  },
  {
    name: 'clientip = X-Forwarded-For is not applied',
    raw: ['Host', 'a', 'X-Forwarded-For', '7.7.7.7'],
    o: { opts: { clientIpHeader: 'X-Forwarded-For' } },
    want: { 'x-forwarded-for': '7.7.7.7, 1.2.3.4' },
  },
  { name: 'XFP set to http', raw: ['Host', 'a'], want: { 'x-forwarded-proto': 'http' } },
  {
    name: 'XFP set to https on TLS',
    raw: ['Host', 'a'],
    o: { ctx: { tls: true } },
    want: { 'x-forwarded-proto': 'https' },
  },
  {
    name: 'XFP from client kept',
    raw: ['Host', 'a', 'X-Forwarded-Proto', 'https'],
    want: { 'x-forwarded-proto': 'https' },
  },
  {
    name: 'XFP ws maps to http',
    raw: ['Host', 'a', 'Upgrade', 'websocket', 'Connection', 'Upgrade'],
    o: { ws: true },
    want: { 'x-forwarded-proto': 'http' },
  },
  {
    name: 'XFP wss maps to https',
    raw: ['Host', 'a', 'Upgrade', 'websocket'],
    o: { ws: true, ctx: { tls: true } },
    want: { 'x-forwarded-proto': 'https' },
  },
  { name: 'X-Forwarded-Port from Host', raw: ['Host', 'a.com:8080'], want: { 'x-forwarded-port': '8080' } },
  { name: 'X-Forwarded-Port 80 default', raw: ['Host', 'a.com'], want: { 'x-forwarded-port': '80' } },
  {
    name: 'X-Forwarded-Port 443 on TLS',
    raw: ['Host', 'a.com'],
    o: { ctx: { tls: true } },
    want: { 'x-forwarded-port': '443' },
  },
  { name: 'X-Forwarded-Port kept', raw: ['Host', 'a.com', 'X-Forwarded-Port', '1'], want: { 'x-forwarded-port': '1' } },
  { name: 'X-Forwarded-Port IPv6 host', raw: ['Host', '[::1]:81'], want: { 'x-forwarded-port': '81' } },
  { name: 'X-Forwarded-Host set', raw: ['Host', 'a.com:1'], want: { 'x-forwarded-host': 'a.com:1' } },
  { name: 'X-Forwarded-Host kept', raw: ['Host', 'a.com', 'X-Forwarded-Host', 'b'], want: { 'x-forwarded-host': 'b' } },
  { name: 'X-Forwarded-Host not set when Host empty', raw: [], want: { 'x-forwarded-host': undefined } },
  {
    name: 'X-Forwarded-Prefix with strip',
    raw: ['Host', 'a', 'X-Forwarded-Prefix', 'evil'],
    o: { strip: '/foo' },
    want: { 'x-forwarded-prefix': '/foo' },
  },
  {
    name: 'X-Forwarded-Prefix untouched without strip',
    raw: ['Host', 'a', 'X-Forwarded-Prefix', 'p'],
    want: { 'x-forwarded-prefix': 'p' },
  },
  { name: 'Forwarded new', raw: ['Host', 'a'], want: { forwarded: 'for=1.2.3.4; proto=http; httpproto=http/1.1' } },
  {
    name: 'Forwarded with by=',
    raw: ['Host', 'a'],
    o: { opts: { localIp: '10.0.0.1' } },
    want: { forwarded: 'for=1.2.3.4; proto=http; by=10.0.0.1; httpproto=http/1.1' },
  },
  {
    name: 'Forwarded extended',
    raw: ['Host', 'a', 'Forwarded', 'for=9.9.9.9; proto=https'],
    want: { forwarded: 'for=9.9.9.9; proto=https; httpproto=http/1.1' },
  },
  {
    name: 'Forwarded on TLS',
    raw: ['Host', 'a'],
    o: { ctx: { tls: true, tlsVersion: 'tls13', tlsCipher: 0x1301, httpProto: 'http/2.0' } },
    want: { forwarded: 'for=1.2.3.4; proto=https; httpproto=http/2.0; tlsver=tls13; tlscipher=0x1301' },
  },
  {
    name: 'tls header set on TLS',
    raw: ['Host', 'a', 'X-Tls', 'no'],
    o: { opts: { tlsHeader: 'X-Tls', tlsHeaderValue: 'yes' }, ctx: { tls: true } },
    want: { 'x-tls': 'yes' },
  },
  {
    name: 'tls header removed on plain',
    raw: ['Host', 'a', 'X-Tls', 'spoof'],
    o: { opts: { tlsHeader: 'X-Tls', tlsHeaderValue: 'yes' } },
    want: { 'x-tls': undefined },
  },
  {
    name: 'request id overwritten',
    raw: ['Host', 'a', 'X-Request-Id', 'client'],
    o: { opts: { requestIdHeader: 'X-Request-Id' } },
    want: { 'x-request-id': 'rid' },
  },
  {
    name: 'hop-by-hop removed',
    raw: [
      'Host',
      'a',
      'Connection',
      'keep-alive',
      'Keep-Alive',
      'timeout=5',
      'Proxy-Connection',
      'x',
      'Upgrade',
      'h2c',
      'Trailer',
      'x',
      'Transfer-Encoding',
      'chunked',
      'Proxy-Authorization',
      'x',
    ],
    want: {
      connection: undefined,
      'keep-alive': undefined,
      'proxy-connection': undefined,
      upgrade: undefined,
      trailer: undefined,
      'transfer-encoding': undefined,
      'proxy-authorization': undefined,
    },
  },
  {
    name: 'Connection-named header removed',
    raw: ['Host', 'a', 'Connection', 'X-Secret', 'X-Secret', 's'],
    want: { 'x-secret': undefined },
  },
  {
    name: 'protected Connection token ignored',
    raw: ['Host', 'a', 'Connection', 'X-Forwarded-For, X-Real-Ip', 'X-Real-Ip', '5.5.5.5'],
    want: { 'x-real-ip': '5.5.5.5', 'x-forwarded-for': '1.2.3.4' },
  },
  {
    name: 'protected requestid token ignored',
    raw: ['Host', 'a', 'Connection', 'X-Request-Id'],
    o: { opts: { requestIdHeader: 'X-Request-Id' } },
    want: { 'x-request-id': 'rid' },
  },
  { name: 'Te trailers kept', raw: ['Host', 'a', 'TE', 'trailers'], want: { te: 'trailers' } },
  { name: 'Te other removed', raw: ['Host', 'a', 'TE', 'gzip'], want: { te: undefined } },
  { name: 'no User-Agent added', raw: ['Host', 'a'], want: { 'user-agent': undefined } },
  { name: 'User-Agent passed', raw: ['Host', 'a', 'User-Agent', 'curl/8'], want: { 'user-agent': 'curl/8' } },
  { name: 'Host override', raw: ['Host', 'a'], o: { hostOut: 'b:1' }, want: { host: 'b:1', 'x-forwarded-host': 'a' } },
  {
    name: 'Authorization forwarded',
    raw: ['Host', 'a', 'Authorization', 'Basic x'],
    want: { authorization: 'Basic x' },
  },
  { name: 'Expect removed', raw: ['Host', 'a', 'Expect', '100-continue'], want: { expect: undefined } },
  {
    name: 'websocket keeps Upgrade and Connection',
    raw: ['Host', 'a', 'Upgrade', 'websocket', 'Connection', 'Upgrade, X-Forwarded-For'],
    o: { ws: true },
    want: { upgrade: 'websocket', connection: 'Upgrade' },
  },
  {
    name: 'h2 pseudo headers dropped',
    raw: [':method', 'GET', ':path', '/', 'host', 'a'],
    want: { ':method': undefined },
  },
];

for (const c of cases) {
  test(`header rule: ${c.name}`, () => {
    const r = run(c.raw, c.o);
    for (const [k, v] of Object.entries(c.want)) assert.equal(r.get(k), v, k);
  });
}

test('every header appears at most once', () => {
  const r = run(['Host', 'a', 'X-Real-Ip', '1', 'X-Forwarded-Proto', 'http'], {
    opts: { clientIpHeader: 'x-real-ip', requestIdHeader: 'X-Request-Id' },
  });
  assert.equal(r.get('x-real-ip'), '1.2.3.4');
  assert.equal(r.names.length, new Set(r.names).size);
});

const schemes: [string | undefined, string | undefined, boolean, string | undefined, string][] = [
  ['https', undefined, false, undefined, 'https'],
  [undefined, 'for=1; proto=https; by=x', false, undefined, 'https'],
  [undefined, 'for=1; proto=wss', false, undefined, 'wss'],
  ['https', 'proto=http', false, undefined, 'http'],
  [undefined, undefined, true, undefined, 'https'],
  [undefined, undefined, false, 'websocket', 'ws'],
  [undefined, undefined, true, 'Websocket', 'wss'],
  [undefined, undefined, false, 'WEBSOCKET', 'http'],
];
for (const [xfp, fwd, tls, up, want] of schemes) {
  test(`scheme(${xfp}, ${fwd}, tls=${tls}, ${up}) = ${want}`, () =>
    assert.equal(detectScheme(xfp, fwd, tls, up), want));
}

test('STS value', () => {
  assert.equal(stsValue(0, true, true), '');
  assert.equal(stsValue(100, false, false), 'max-age=100');
  assert.equal(stsValue(100, true, true), 'max-age=100; includeSubdomains; preload');
});

test('isToken is the RFC 9110 token class for every code 0-300, and hop-by-hop names are exactly the nine', () => {
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  for (let c = 0; c <= 300; c++) {
    const ch = String.fromCharCode(c);
    assert.equal(isToken(ch), token.test(ch), `code ${c}`);
    assert.equal(isToken(`a${ch}b`), token.test(`a${ch}b`), `code ${c} inside`);
  }
  assert.equal(isToken(''), false);
  const hop = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization'];
  for (const n of [...hop, 'te', 'trailer', 'transfer-encoding', 'upgrade'])
    assert.equal(isHopByHopResponse(n), true, n);
  for (const n of ['tE', 'host', 'trailers', 'content-length', 'x-connection', 'proxy-authorizatio', ''])
    assert.equal(isHopByHopResponse(n), false, n);
});
