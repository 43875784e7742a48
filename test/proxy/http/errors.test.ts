import assert from 'node:assert/strict';
import { STATUS_CODES } from 'node:http';
import { test } from 'node:test';
import { goAddr, goIp } from '../../../src/go/ip.ts';
import { classify, ProxyError, rawAnswer, reasonPhrase, toResponse } from '../../../src/proxy/errors.ts';

const cases: [string, unknown, number, string, boolean][] = [
  ['connect refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 502, '', true],
  ['reset', Object.assign(new Error('x'), { code: 'ECONNRESET' }), 502, '', true],
  ['undici socket', Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }), 502, '', true],
  [
    'connect timeout',
    Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }),
    504,
    '',
    true,
  ],
  [
    'headers timeout',
    Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
    504,
    '',
    true,
  ],
  [
    'tls verify',
    Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    500,
    '',
    true,
  ],
  ['client gone', new ProxyError('CLIENT_GONE', 'gone'), 499, '', false],
  ['abort', Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' }), 499, '', false],
  ['access denied', new ProxyError('ACCESS_DENIED', 'x'), 403, 'access denied\n', false],
  ['auth failed', new ProxyError('AUTH_FAILED', 'x'), 401, 'authorization failed\n', false],
  [
    'parser error',
    Object.assign(new Error('Response does not match the HTTP/1.1 protocol'), { name: 'HTTPParserError' }),
    502,
    '',
    true,
  ],
  ['other', new Error('boom'), 500, '', true],
  ['bad request', new ProxyError('BAD_REQUEST', 'x'), 400, '', false],
  ['too many header lines', new ProxyError('HEADERS_TOO_LARGE', 'x'), 431, '', false],
  ['request timeout', new ProxyError('CLIENT_TIMEOUT', 'x'), 408, '', false],
  ['no route', new ProxyError('NO_ROUTE', 'x'), 404, '', false],
  [
    'malformed answer (llhttp code)',
    Object.assign(new Error('x'), { code: 'HPE_INVALID_HEADER_TOKEN' }),
    502,
    '',
    true,
  ],
  ['length mismatch', Object.assign(new Error('x'), { code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' }), 502, '', true],
];
for (const [name, err, status, body, log] of cases) {
  test(`toResponse: ${name}`, () => {
    assert.deepEqual(toResponse(err), { status, body, log });
    assert.equal(classify(err).status, status);
  });
}

test('client ip in Go form', () => {
  assert.equal(goIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(goIp('::1'), '::1');
  assert.equal(goIp('::ffff:abcd'), '::ffff:abcd');
  assert.equal(goAddr('::1', 80), '[::1]:80');
  assert.equal(goAddr('1.2.3.4', 5), '1.2.3.4:5');
});

test('no route answers proxy.noroutestatus; every status of the table has a real reason phrase', () => {
  assert.equal(toResponse(new ProxyError('NO_ROUTE', 'x'), 410).status, 410);
  assert.equal(toResponse(new ProxyError('NO_ROUTE', 'x'), 0).status, 404);
  for (const [, err] of cases) {
    const { status } = toResponse(err);
    assert.equal(reasonPhrase(status), STATUS_CODES[status] ?? 'Client Closed Request', String(status));
  }
  assert.equal(reasonPhrase(299), 'Status', 'an unnamed code gets a neutral phrase, never OK');
  assert.equal(
    rawAnswer(431),
    'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
});
