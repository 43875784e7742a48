/**
 * Writes fabio.properties.example from the config key table.
 *   npx tsx scripts/gen-properties-example.ts          write the file
 *   npx tsx scripts/gen-properties-example.ts --check  exit 1 when the committed file differs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { propertiesExample } from '../src/config/properties-example.ts';

const file = fileURLToPath(new URL('../fabio.properties.example', import.meta.url));
const want = propertiesExample();

if (process.argv.includes('--check')) {
  let have = '';
  try {
    have = readFileSync(file, 'utf8');
  } catch {
    // missing counts as drift
  }
  if (have !== want) {
    process.stderr.write('fabio.properties.example is out of date: run npx tsx scripts/gen-properties-example.ts\n');
    process.exit(1);
  }
} else {
  writeFileSync(file, want);
  process.stdout.write(`wrote ${file}\n`);
}
