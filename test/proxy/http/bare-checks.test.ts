import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { bareHttp } from '../../../src/proxy/http/bare-parser.ts';

/**
 * bare-parser.ts answers Node's header name/value checks from per-character tables: every answer
 * must be Node's own (`_http_common`), for every character and for strings mixing them.
 */
const common = createRequire(import.meta.url)('_http_common') as {
  _checkIsHttpToken: (v: string) => boolean;
  _checkInvalidHeaderChar: (v: string) => boolean;
};

test('bare header checks: every code 0-300, alone and inside a valid string, answered as node:http answers', {
  skip: bareHttp === undefined ? 'no bare HTTP on this Node' : false,
}, () => {
  const b = bareHttp as NonNullable<typeof bareHttp>;
  for (let c = 0; c <= 300; c++) {
    const ch = String.fromCharCode(c);
    for (const v of [ch, `ab${ch}`, `${ch}cd`, `a${ch}b`, ch + ch]) {
      assert.equal(b.isToken(v), common._checkIsHttpToken(v), `isToken ${JSON.stringify(v)}`);
      assert.equal(b.invalidHeaderChar(v), common._checkInvalidHeaderChar(v), `invalidHeaderChar ${JSON.stringify(v)}`);
    }
  }
  for (const v of ['', ' ', 'x'.repeat(10_000), `${'x'.repeat(9_999)}\n`, 'Content-Length', 'text/html; charset=utf-8'])
    assert.deepEqual(
      [b.isToken(v), b.invalidHeaderChar(v)],
      [common._checkIsHttpToken(v), common._checkInvalidHeaderChar(v)],
    );
});
