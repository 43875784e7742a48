/**
 * Repository check (issue #16): no function, method or arrow function under src/ is longer than
 * MAX_LINES lines (first line of its declaration to its closing brace, comments inside included),
 * unless ALLOWED names it with a one-line reason. A long function is read top to bottom by every
 * maintainer who touches it; split it into named steps instead of growing it.
 *
 * Parsed with the TypeScript compiler API (syntax only, no type check: the whole tree in well under a
 * second). A name is the chain of enclosing named functions and classes, e.g.
 * `runtime/serve.ts#serve`, `proxy/tcp/relay.ts#Relay.start`, `ui/server.ts#createUi/on('request')`
 * for an anonymous callback; line numbers are left out so an entry survives edits above it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_LINES = 120;
const src = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'src');

/** `file#name` → why it may stay longer than MAX_LINES. Shrink this list; an entry that no longer
 * needs to be here fails the test, so the list cannot go stale. */
const ALLOWED: Readonly<Record<string, string>> = {};

interface LongFunction {
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string | undefined {
  if (
    (ts.isFunctionDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      ts.isClassExpression(node) ||
      ts.isFunctionExpression(node)) &&
    node.name
  )
    return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isClassExpression(node)) {
    const p = node.parent;
    if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
      return p.name.getText(sf);
    if (ts.isCallExpression(p)) {
      // an anonymous callback: named after the call and its first argument when that is a string
      const callee = ts.isPropertyAccessExpression(p.expression) ? p.expression.name.text : p.expression.getText(sf);
      const first = p.arguments[0];
      return first && ts.isStringLiteralLike(first) ? `${callee}('${first.text}')` : `${callee}()`;
    }
    return '<anonymous>';
  }
  return undefined;
}

/** Every function-like node of `text` longer than `max` lines. */
function longFunctions(fileName: string, text: string, max: number): LongFunction[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: LongFunction[] = [];
  const visit = (node: ts.Node, path: readonly string[]): void => {
    const own = nameOf(node, sf);
    const here = own === undefined ? path : [...path, own];
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > max) out.push({ name: here.join('/'), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, (c) => visit(c, here));
  };
  visit(sf, []);
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('the checker finds a long arrow, method and callback, and names them', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
  const text = [
    `export const longArrow = (x: number) => {\n${body(119)}\n  return x;\n};`,
    `class K { method(x: number) {\n${body(119)}\n  return x; } }`,
    `function outer() { on('request', (x: number) => {\n${body(119)}\n}); }`,
    `function short(x: number) {\n${body(117)}\n  return x;\n}`,
  ].join('\n');
  const found = longFunctions('t.ts', text, MAX_LINES).map((f) => `${f.name} ${f.lines}`);
  // `short` is exactly 120 lines: the limit itself is allowed
  assert.deepEqual(found, ['longArrow 122', 'K/method 121', 'outer 121', "outer/on('request') 121"]);
});

test(`no function under src/ is longer than ${MAX_LINES} lines unless allowed with a reason`, () => {
  const over = new Map<string, string>();
  for (const file of walk(src)) {
    const rel = relative(src, file).split('\\').join('/');
    for (const f of longFunctions(rel, readFileSync(file, 'utf8'), MAX_LINES))
      over.set(`${rel}#${f.name}`, `${rel}:${f.line} ${f.name} (${f.lines} lines)`);
  }
  const offenders = [...over].filter(([key]) => ALLOWED[key] === undefined).map(([, where]) => where);
  const stale = Object.keys(ALLOWED).filter((key) => !over.has(key));
  for (const [key, why] of Object.entries(ALLOWED))
    assert.ok(why.trim() !== '', `${key}: the allow-list needs a reason`);
  if (offenders.length > 0) console.log(`functions over ${MAX_LINES} lines:\n  ${offenders.join('\n  ')}`);
  assert.deepEqual(offenders, [], `split these (or allow them in ALLOWED with a reason)`);
  assert.deepEqual(stale, [], 'ALLOWED entries that are no longer over the limit (remove them)');
});
