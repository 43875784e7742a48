import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** fabio-ts version (package.json's `version`; a test keeps them equal). */
export const VERSION = '0.1.0';

/**
 * The git commit the build came from. The builds write it in: scripts/postbuild.mjs into
 * dist/version.js, scripts/build-binary.mjs into the executable's bundle. Empty in the source tree,
 * where buildCommit() asks git once.
 */
const BUILT_FROM: string = '';

let commit: string | undefined;

/** Short commit id of this build, or 'unknown' (a source tree without git, a tarball build without it). */
export function buildCommit(): string {
  if (commit === undefined) commit = BUILT_FROM || commitOfCheckout();
  return commit;
}

function commitOfCheckout(): string {
  let dir: string;
  try {
    dir = dirname(fileURLToPath(import.meta.url));
  } catch {
    return 'unknown';
  }
  try {
    const out = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
    return /^[0-9a-f]{7,40}$/.test(out) ? out : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * What -v, /api/version and the start-up line print: the version with the commit as semver build
 * metadata (`0.1.0+1a2b3c4d5e6f`), one word, so `-v` keeps fabio's `<version> <runtime>` shape.
 */
export function versionString(): string {
  return `${VERSION}+${buildCommit()}`;
}
