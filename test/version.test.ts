import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildCommit, VERSION, versionString } from '../src/version.ts';

test('VERSION is the package version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('from the source tree the commit is the checkout HEAD, carried as semver build metadata', () => {
  let head = 'unknown';
  try {
    head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  assert.equal(buildCommit(), head);
  assert.equal(versionString(), `${VERSION}+${head}`);
});
