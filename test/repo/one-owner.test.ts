/**
 * Repository check (issue #16, style habit 15): a helper that reproduces Go's or fabio's behaviour
 * is defined once. A second `function goQuote` (or `TagWarning` type, ...) under src/ fails here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src');

/** Name → the one module that defines it. */
const OWNERS: Readonly<Record<string, string>> = {
  goQuote: 'go/quote.ts',
  goIp: 'go/ip.ts',
  goAddr: 'go/ip.ts',
  splitHostPort: 'go/host-port.ts',
  localIP: 'go/local-ip.ts',
  tlsVersionName: 'proxy/tls/ciphers.ts',
  TagWarning: 'routes/tags.ts',
};

/** Copies still inside files being changed elsewhere; the lead removes them after merging (issue #16). */
const PENDING: readonly string[] = [];

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('each borrowed Go/fabio helper is defined in exactly one module', () => {
  const defs = new RegExp(
    `^\\s*(?:export\\s+)?(?:function|const|let|interface|type|class)\\s+(${Object.keys(OWNERS).join('|')})\\b`,
    'gm',
  );
  const extra: string[] = [];
  const found = new Set<string>();
  for (const file of walk(src)) {
    const rel = relative(src, file);
    for (const m of readFileSync(file, 'utf8').matchAll(defs)) {
      const name = m[1] ?? '';
      if (OWNERS[name] === rel) found.add(name);
      else extra.push(`${name} ${rel}`);
    }
  }
  assert.deepEqual(extra.filter((e) => !PENDING.includes(e)).sort(), [], 'copies of a helper outside its owner module');
  assert.deepEqual(
    PENDING.filter((p) => !extra.includes(p)),
    [],
    'PENDING entries that no longer occur (remove them)',
  );
  assert.deepEqual([...found].sort(), Object.keys(OWNERS).sort(), 'every owner still defines its helper');
});
