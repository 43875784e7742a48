// The commit a build came from, for scripts/postbuild.mjs and scripts/build-binary.mjs (see src/version.ts).
import { execFileSync } from 'node:child_process';

/**
 * Short commit id of the checkout (with `-dirty` when tracked files changed), or 'unknown' outside
 * git. FABIO_TS_COMMIT overrides it (a container build whose context has no .git).
 */
export function gitCommit(cwd = process.cwd()) {
  const given = process.env.FABIO_TS_COMMIT;
  if (given && /^[0-9a-z.-]{1,64}$/.test(given)) return given;
  const git = (args) =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const id = git(['rev-parse', '--short=12', 'HEAD']);
    if (!/^[0-9a-f]{7,40}$/.test(id)) return 'unknown';
    return git(['status', '--porcelain', '--untracked-files=no']) === '' ? id : `${id}-dirty`;
  } catch {
    return 'unknown';
  }
}

/** The line of src/version.ts (and of its compiled form) that a build rewrites. */
export const COMMIT_MARKER = /const BUILT_FROM(: string)? = '';/;

/** `source` with the build commit written in; throws when the marker is missing (the build would lie). */
export function withCommit(source, commit) {
  if (!COMMIT_MARKER.test(source)) throw new Error("version module: no `const BUILT_FROM = '';` line to fill in");
  return source.replace(COMMIT_MARKER, (_m, type) => `const BUILT_FROM${type ?? ''} = ${JSON.stringify(commit)};`);
}
