import { runRouteTool } from './route-tools.ts';

/**
 * Stand-alone entry for the route tools: `node --import tsx src/cli/route-main.ts route <tool> ...`
 * (the product wires `fabio-ts route ...` to runRouteTool directly).
 */
const argv = process.argv.slice(2);
if (argv[0] === 'route') argv.shift();
runRouteTool(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
