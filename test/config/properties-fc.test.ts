import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/config/go-values.ts';
import { parseKVList } from '../../src/config/kv-list.ts';
import { parseProperties } from '../../src/config/properties.ts';
import { goQuote } from '../../src/go/quote.ts';

test('property: parseDuration(formatDuration(ns)) round-trips whole nanoseconds', () => {
  fc.assert(
    fc.property(fc.integer({ min: -1e15, max: 1e15 }), (ns) => {
      assert.equal(Math.round(parseDuration(formatDuration(ns / 1e6)) * 1e6), ns);
    }),
  );
});

test('property: any value survives Go quoting inside a list entry', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
      const input = `:1;x=${goQuote(a)};y=${goQuote(b)},:2`;
      assert.deepEqual(
        parseKVList(input).map((m) => Object.fromEntries(m)),
        [{ '': ':1', x: a, y: b }, { '': ':2' }],
      );
    }),
  );
});

test('property: parseKVList never throws anything but ConfigError', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', '=', ',', ';', '"', "'", '\\', ' ', 'n', 'x', '0') }), (s) => {
      try {
        parseKVList(s);
      } catch (err) {
        assert.equal((err as Error).name, 'ConfigError', s);
      }
    }),
  );
});

test('property: a properties value written with escapes reads back unchanged', () => {
  const escape = (v: string) =>
    v
      .replace(
        /[\\\n\r\t\f]|^[ ]|[ ]$/g,
        (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\f': '\\f', ' ': '\\ ' })[c] ?? c,
      )
      .replace(/\$\{/g, '$\\{');
  fc.assert(
    fc.property(fc.string(), (v) => {
      if (v.includes('${')) return;
      const p = parseProperties(`key = ${escape(v)}\n`);
      assert.equal(p.get('key'), v);
    }),
  );
});

test('gen-properties-example --check passes on the committed file', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-properties-example.ts', '--check'], {
    cwd: new URL('../../', import.meta.url),
    encoding: 'utf8',
    timeout: 30000,
  });
  assert.equal(r.status, 0, r.stderr);
});
