import { serviceRouteCommands, sortRouteLines } from '../routes/index.ts';
import { flag, parseArgs, UsageError } from './args.ts';
import { type ToolIO, write } from './io.ts';
import { TAGS_USAGE } from './usage.ts';

/**
 * `route tags --service NAME --addr ADDR --port PORT [--tagprefix P] [--dc DC] TAG...`: the route
 * commands one Consul service instance produces, in fabio's order (reverse sorted). A tag that
 * cannot be translated is reported on stderr and makes the exit code 1.
 */
export async function routeTags(argv: readonly string[], io: ToolIO): Promise<number> {
  const a = parseArgs(argv, [
    { name: 'service', kind: 'string' },
    { name: 'addr', kind: 'string' },
    { name: 'port', kind: 'string' },
    { name: 'tagprefix', kind: 'string' },
    { name: 'dc', kind: 'string' },
  ]);
  const service = flag(a, 'service');
  const addr = flag(a, 'addr');
  const port = flag(a, 'port');
  if (service === undefined || service === '') throw new UsageError(`missing --service\n${TAGS_USAGE}`);
  if (addr === undefined || addr === '') throw new UsageError(`missing --addr\n${TAGS_USAGE}`);
  if (port === undefined || !/^\d{1,5}$/.test(port) || Number(port) > 65535)
    throw new UsageError(`--port must be a number 0-65535\n${TAGS_USAGE}`);
  const dc = flag(a, 'dc');
  const { lines, warnings } = serviceRouteCommands({
    service,
    addr,
    port: Number(port),
    tags: a.positional,
    tagPrefix: flag(a, 'tagprefix') ?? 'urlprefix-',
    env: dc === undefined ? {} : { DC: dc },
  });
  for (const w of warnings) await write(io.stderr, `tag ${JSON.stringify(w.tag)}: ${w.message}\n`);
  await write(io.stdout, lines.length === 0 ? '' : `${sortRouteLines(lines).join('\n')}\n`);
  return warnings.length > 0 ? 1 : 0;
}
