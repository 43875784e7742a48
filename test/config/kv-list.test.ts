import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKVList } from '../../src/config/kv-list.ts';

const asObj = (ms: Map<string, string>[]) => ms.map((m) => Object.fromEntries(m));

test('parseKVList: fabio list-value syntax', () => {
  const cases: [string, Record<string, string>[]][] = [
    ['', []],
    [',,;', []],
    [':9999', [{ '': ':9999' }]],
    ['a=b', [{ a: 'b' }]],
    ['a=b;c=d', [{ a: 'b', c: 'd' }]],
    ['a=b;c=d,e=f', [{ a: 'b', c: 'd' }, { e: 'f' }]],
    [':443;cs=x,:80', [{ '': ':443', cs: 'x' }, { '': ':80' }]],
    ['a=b=c', [{ a: 'b=c' }]],
    [' a = b ', [{ a: ' b ' }]],
    ['a="x,y;z=w"', [{ a: 'x,y;z=w' }]],
    ["a='x,y'", [{ a: 'x,y' }]],
    ['a="\\"q\\"\\n"', [{ a: '"q"\n' }]],
    ['tlsciphers="0xc02b,0xc02f";a=b', [{ tlsciphers: '0xc02b,0xc02f', a: 'b' }]],
    [',a=b,', [{ a: 'b' }]],
    ['addr=:1;;proto=tcp', [{ addr: ':1', proto: 'tcp' }]],
    ['hdr=X-Y: z', [{ hdr: 'X-Y: z' }]],
    ['a=', [{ a: '' }]],
    ['a="x"y', [{ a: 'xy' }]],
  ];
  for (const [input, want] of cases) assert.deepEqual(asObj(parseKVList(input)), want, input);
});

test('parseKVList: errors', () => {
  const cases: [string, string][] = [
    ['a="x', 'unbalanced quotes'],
    ['a="x\\', 'unterminated escape sequence'],
    ['a="\\q"', 'invalid escape sequence'],
    ['=x', `invalid value "=x": '=' without a key`],
    [':443;strictmatch,:80', `invalid value ":443;strictmatch,:80": missing '=' after "strictmatch"`],
  ];
  for (const [input, msg] of cases) assert.throws(() => parseKVList(input), { message: msg }, input);
});

test('parseKVList: a key without = at the very end is an error too (fabio drops it silently)', () => {
  assert.throws(() => parseKVList('a;b'), { message: `invalid value "a;b": missing '=' after "b"` });
});
