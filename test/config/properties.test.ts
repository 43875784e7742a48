import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProperties } from '../../src/config/properties.ts';

const all = (text: string, env: Record<string, string> = {}) => {
  const p = parseProperties(text, env);
  return Object.fromEntries(p.keys.map((k) => [k, p.get(k)]));
};

test('properties: separators, comments, blanks', () => {
  const cases: [string, Record<string, string>][] = [
    ['a = b', { a: 'b' }],
    ['a=b', { a: 'b' }],
    ['a: b', { a: 'b' }],
    ['a b', { a: 'b' }],
    ['  a   =   b c  ', { a: 'b c' }],
    ['# c\n! c\n\n  # indented comment\na=1', { a: '1' }],
    ['a=', { a: '' }],
    ['a', { a: '' }],
    ['a=x=y', { a: 'x=y' }],
    ['proxy.addr = :443;cs=x,:80', { 'proxy.addr': ':443;cs=x,:80' }],
    ['a=1\na=2', { a: '2' }],
    ['a=1\r\nb=2\rc=3', { a: '1', b: '2', c: '3' }],
    ['\uFEFFa=1', { a: '1' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(all(text), want, text);
});

test('properties: escapes and continuation lines', () => {
  const cases: [string, Record<string, string>][] = [
    ['a = one \\\n    two', { a: 'one two' }],
    ['a = x\\\\\nb = y', { a: 'x\\', b: 'y' }],
    ['a = \\t\\n\\u0041\\z', { a: '\t\nAz' }],
    ['my\\ key = v', { 'my key': 'v' }],
    ['a\\=b = c', { 'a=b': 'c' }],
    ['a = trailing\\ ', { a: 'trailing ' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(all(text), want, text);
});

test('properties: ${var} expansion from the file, then the environment', () => {
  assert.deepEqual(all('host = 10.0.0.1\nproxy.addr = ${host}:9999'), {
    host: '10.0.0.1',
    'proxy.addr': '10.0.0.1:9999',
  });
  assert.deepEqual(all('a = ${HOME}/x', { HOME: '/home/u' }), { a: '/home/u/x' });
  assert.deepEqual(all('a = ${nope}x'), { a: 'x' });
  assert.deepEqual(all('a = ${b}\nb = ${c}\nc = z'), { a: 'z', b: 'z', c: 'z' });
  assert.throws(() => parseProperties('a = ${b}\nb = ${a}'), /circular reference/);
});
