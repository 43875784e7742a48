import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, goMapString, parseBool, parseDuration, parseGoInt } from '../../src/config/go-values.ts';
import { goQuote } from '../../src/go/quote.ts';

test('parseDuration: Go syntax', () => {
  const cases: [string, number][] = [
    ['0', 0],
    ['-0', 0],
    ['5s', 5000],
    ['500ms', 500],
    ['1m30s', 90000],
    ['1.5s', 1500],
    ['-1.5h', -5400000],
    ['+3s', 3000],
    ['1h2m3s4ms5us6ns', 3723004.005006],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['100μs', 0.1],
    ['.5s', 500],
    ['5.s', 5000],
    ['250ns', 0.00025],
  ];
  for (const [s, ms] of cases) assert.equal(parseDuration(s), ms, s);
});

test('parseDuration: Go error texts', () => {
  const cases: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['x', 'time: invalid duration "x"'],
    ['1', 'time: missing unit in duration "1"'],
    ['1x', 'time: unknown unit "x" in duration "1x"'],
    ['1sec', 'time: unknown unit "sec" in duration "1sec"'],
    ['.s', 'time: invalid duration ".s"'],
    ['-', 'time: invalid duration "-"'],
    ['1s ', 'time: unknown unit "s " in duration "1s "'],
  ];
  for (const [s, msg] of cases) assert.throws(() => parseDuration(s), { message: msg }, s);
});

test('formatDuration: Go Duration.String()', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [1500, '1.5s'],
    [90000, '1m30s'],
    [3600000, '1h0m0s'],
    [250, '250ms'],
    [0.1, '100µs'],
    [-2000, '-2s'],
  ];
  for (const [ms, s] of cases) assert.equal(formatDuration(ms), s, s);
});

test('parseBool: strconv.ParseBool', () => {
  for (const s of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseBool(s), true, s);
  for (const s of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseBool(s), false, s);
  for (const s of ['', 'yes', 'tRUE', 'on', ' true']) assert.throws(() => parseBool(s), /parse error/, s);
});

test('parseGoInt: base 0', () => {
  const ok: [string, number][] = [
    ['0', 0],
    ['404', 404],
    ['-1', -1],
    ['+7', 7],
    ['0x1F', 31],
    ['010', 8],
    ['0o10', 8],
    ['0b101', 5],
    ['1_000', 1000],
  ];
  for (const [s, n] of ok) assert.equal(parseGoInt(s), n, s);
  for (const s of ['', '1.5', 'abc', '08', '1__0', '10_', '0x', ' 1'])
    assert.throws(() => parseGoInt(s), /parse error/, s);
  assert.throws(() => parseGoInt('9223372036854775808'), /value out of range/);
});

test('goQuote and goMapString', () => {
  assert.equal(goQuote('a"b\\c\n'), '"a\\"b\\\\c\\n"');
  assert.equal(goQuote('\x01'), '"\\x01"');
  assert.equal(
    goMapString(
      new Map([
        ['type', 'file'],
        ['cert', 'x'],
        ['', 'first'],
      ]),
    ),
    'map[:first cert:x type:file]',
  );
});
