import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  escapePath,
  mergeQuery,
  normalizePath,
  rewritePath,
  splitRequestTarget,
} from '../../../src/proxy/http/path.ts';

const norm: [string, string][] = [
  ['/foo%2Fbar', '/foo/bar'],
  ['/foo/../bar', '/bar'],
  ['/foo//bar', '/foo/bar'],
  ['/api%2F..%2Fv2//users/', '/v2/users/'],
  ['/', '/'],
  ['/a/b/', '/a/b/'],
  ['/a/./b', '/a/b'],
  ['/..', '/'],
  ['/%252e%252e/x', '/x'],
  ['/%zz', '/%zz'],
  ['/plain/path', '/plain/path'],
  ['', '/'],
];
for (const [inp, want] of norm) test(`normalizePath(${inp}) = ${want}`, () => assert.equal(normalizePath(inp), want));

const rw: [string, string, string, string][] = [
  ['/foo/bar', '/foo', '', '/bar'],
  ['/foo', '/foo', '', '/'],
  ['/foobar', '/foo', '', '/bar'],
  ['/x', '/foo', '', '/x'],
  ['/bar', '', '/pre', '/pre/bar'],
  ['/foo/bar', '/foo', '/pre', '/pre/bar'],
  ['/x', '', 'pre', '/pre/x'],
];
for (const [p, s, pre, want] of rw)
  test(`rewritePath(${p}, strip=${s}, prepend=${pre})`, () => assert.equal(rewritePath(p, s, pre), want));

test('mergeQuery puts the target query first', () => {
  assert.equal(mergeQuery('a=1', 'b=2'), 'a=1&b=2');
  assert.equal(mergeQuery('', 'b=2'), 'b=2');
  assert.equal(mergeQuery('a=1', ''), 'a=1');
});

test('escapePath escapes like Go EscapedPath', () => {
  assert.equal(escapePath('/a b/ü!'), '/a%20b/%C3%BC%21');
  assert.equal(escapePath('/a:b@c;d=e,f$g&h+i~j'), '/a:b@c;d=e,f$g&h+i~j');
  assert.equal(escapePath('/q?x'), '/q%3Fx');
});

test('splitRequestTarget', () => {
  assert.deepEqual(splitRequestTarget('/a?b=1'), { rawPath: '/a', query: 'b=1' });
  assert.deepEqual(splitRequestTarget('http://h:1/x?y'), { rawPath: '/x', query: 'y' });
  assert.deepEqual(splitRequestTarget('http://h:1'), { rawPath: '/', query: '' });
  assert.deepEqual(splitRequestTarget('/a#frag'), { rawPath: '/a', query: '' });
});
