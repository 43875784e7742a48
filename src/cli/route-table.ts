import { buildTable } from '../routes/index.ts';
import { boolFlag, parseArgs, UsageError } from './args.ts';
import { readSource, type ToolIO, write } from './io.ts';
import { TABLE_USAGE } from './usage.ts';

/** `route table [FILE|-] [--dump]`: the table text (or tree dump) built from route commands. */
export async function routeTable(argv: readonly string[], io: ToolIO): Promise<number> {
  const a = parseArgs(argv, [{ name: 'dump', kind: 'bool' }]);
  if (a.positional.length > 1) throw new UsageError(`too many arguments\n${TABLE_USAGE}`);
  const text = await readSource(a.positional[0], io, 'or pass a FILE');
  const table = buildTable(text, { matcher: 'prefix', strategy: 'rr', globDisabled: false, globCacheSize: 1000 });
  for (const w of table.warnings) await write(io.stderr, `warning: line ${w.line}: ${w.message}\n`);
  const out = boolFlag(a, 'dump') ? table.dump() : table.print();
  await write(io.stdout, out === '' || out.endsWith('\n') ? out : `${out}\n`);
  return 0;
}
