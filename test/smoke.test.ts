import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { VERSION } from '../src/version.ts';
import { startFabio } from './helpers/proc.ts';

// The one version constant is the published one: npm publishes package.json's version, while -v,
// /api/version and the start-up line print VERSION.
test('VERSION is the package.json version, and the CLI prints it for -v', async () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
  const v = startFabio(['-v']);
  const [code] = await once(v.proc, 'close'); // 'close': after stdout has been read to its end
  assert.equal(code, 0);
  // the version, with the commit of the build as semver build metadata when it is known
  const v0 = pkg.version.replaceAll('.', '\\.');
  assert.match(
    v.stdout.join('\n'),
    new RegExp(`^${v0}(\\+[0-9a-f]{7,40}(-dirty)?)? node${process.versions.node.replaceAll('.', '\\.')}$`),
  );
});
