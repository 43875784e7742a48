import { VERSION } from '../version.ts';

/** Entry point; wiring comes with the runtime. Returns an exit code, or undefined while serving. */
export async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === '-v' || argv[0] === '-version' || argv[0] === '--version') {
    process.stdout.write(`${VERSION} node${process.versions.node}\n`);
    return 0;
  }
  process.stderr.write('fabio-ts: runtime not wired yet\n');
  return 1;
}
