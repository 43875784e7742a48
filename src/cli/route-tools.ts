import { ROUTE_HELP, RouteSyntaxError } from '../routes/index.ts';
import { UsageError } from './args.ts';
import { type ToolIO, write } from './io.ts';
import { routeExplain } from './route-explain.ts';
import { routeTable } from './route-table.ts';
import { routeTags } from './route-tags.ts';
import { EXPLAIN_USAGE, ROUTE_USAGE, TABLE_USAGE, TAGS_USAGE } from './usage.ts';

export type { ToolIO } from './io.ts';

const TOOLS: Record<string, { run: (argv: readonly string[], io: ToolIO) => Promise<number>; usage: string }> = {
  table: { run: routeTable, usage: TABLE_USAGE },
  explain: { run: routeExplain, usage: EXPLAIN_USAGE },
  tags: { run: routeTags, usage: TAGS_USAGE },
};

/**
 * `fabio-ts route <tool> ...`: argv starts with the tool name (table | explain | tags).
 * Exit codes: 0 ok, 1 invalid input (`line N: ...` on stderr), 2 usage error. Nothing but the
 * result is printed on stdout.
 */
export async function runRouteTool(argv: string[], io: ToolIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '-help' || name === '--help' || name === 'help') {
    await write(name === undefined ? io.stderr : io.stdout, `${ROUTE_USAGE}\n${ROUTE_HELP}`);
    return name === undefined ? 2 : 0;
  }
  const tool = TOOLS[name];
  if (tool === undefined) {
    await write(io.stderr, `unknown route tool ${JSON.stringify(name)}\n${ROUTE_USAGE}`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help') || rest.includes('-help')) {
    await write(io.stdout, `${tool.usage}\n\n${ROUTE_HELP}`);
    return 0;
  }
  try {
    return await tool.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      await write(io.stderr, `${err.message}\n`);
      return 2;
    }
    if (err instanceof RouteSyntaxError) {
      await write(io.stderr, `${err.message}\n`);
      return 1;
    }
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && e.syscall !== undefined) {
      await write(io.stderr, `${e.message}\n`);
      return 1;
    }
    throw err;
  }
}
