// After tsc: make the CLI executable, ship the UI assets next to the compiled admin server, and write
// the commit this build came from into dist/version.js (src/version.ts explains why).
import { chmodSync, copyFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gitCommit, withCommit } from './build-info.mjs';

chmodSync('dist/cli.js', 0o755);
if (existsSync('src/ui/assets')) cpSync('src/ui/assets', 'dist/ui/assets', { recursive: true });
// third-party UI files (the chart library) from their package into the assets: nothing is fetched at run time
const require = createRequire(import.meta.url);
for (const [name, spec] of Object.entries(JSON.parse(readFileSync('src/ui/vendor-assets.json', 'utf8'))))
  copyFileSync(require.resolve(spec), `dist/ui/assets/${name}`);
writeFileSync('dist/version.js', withCommit(readFileSync('dist/version.js', 'utf8'), gitCommit()));
