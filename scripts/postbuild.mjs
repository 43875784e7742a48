// After tsc: make the CLI executable, ship the UI assets next to the compiled admin server, and write
// the commit this build came from into dist/version.js (src/version.ts explains why).
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gitCommit, withCommit } from './build-info.mjs';

chmodSync('dist/cli.js', 0o755);
if (existsSync('src/ui/assets')) cpSync('src/ui/assets', 'dist/ui/assets', { recursive: true });
writeFileSync('dist/version.js', withCommit(readFileSync('dist/version.js', 'utf8'), gitCommit()));
