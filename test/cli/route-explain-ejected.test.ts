import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { runRouteTool } from '../../src/cli/route-tools.ts';

/** `route explain --ejected URL`: the picks skip a target the running proxy has ejected (issue #15). */

async function run(argv: string[], stdin: string): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c) => (out += c));
  const code = await runRouteTool(argv, { stdin: Readable.from([stdin]), stdout, stderr: new PassThrough() });
  return { code, out };
}

const ROUTES = [
  'route add web example.com/ http://10.0.0.1:8080/',
  'route add web example.com/ http://10.0.0.2:8080/',
  'route add web example.com/ http://10.0.0.3:8080/',
].join('\n');

test('route explain --ejected: rr picks skip the ejected target; --why names it', async () => {
  const base = ['explain', '--strategy', 'rr', '--repeat', '6'];
  const plain = await run([...base, 'http://example.com/'], ROUTES);
  assert.equal(plain.code, 0);
  assert.equal(plain.out.split('\n').filter((l) => l === 'http://10.0.0.2:8080/').length, 2);
  const r = await run([...base, '--ejected', 'http://10.0.0.2:8080/', 'http://example.com/'], ROUTES);
  assert.equal(r.code, 0);
  const picks = r.out.trim().split('\n');
  assert.equal(picks.length, 6);
  assert.ok(!picks.includes('http://10.0.0.2:8080/'), r.out);
  const why = await run(
    ['explain', '--strategy', 'rr', '--why', '--ejected', 'http://10.0.0.1:8080/', 'http://example.com/'],
    ROUTES,
  );
  assert.match(why.out, /^ {2}Skipping ejected target http:\/\/10\.0\.0\.1:8080\/$/m);
  assert.doesNotMatch(why.out.split('\n')[0] ?? '', /10\.0\.0\.1/);
});
