// After tsc: make the CLI executable and ship the UI assets next to the compiled admin server.
import { chmodSync, cpSync, existsSync } from 'node:fs';

chmodSync('dist/cli.js', 0o755);
if (existsSync('src/ui/assets')) cpSync('src/ui/assets', 'dist/ui/assets', { recursive: true });
