import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goAddr, goIp } from '../../../src/proxy/client-ip.ts';
import { classify, ProxyError, toResponse } from '../../../src/proxy/errors.ts';

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
  ['remote addr', new ProxyError('BAD_REMOTE_ADDR', 'cannot parse x'), 500, 'cannot parse x\n', true],
  ['other', new Error('boom'), 500, '', true],
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
