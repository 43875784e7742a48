import { goQuote } from '../go/quote.ts';
import { KEYS } from './keys.ts';

/**
 * `-h` output in the layout of Go's flag.PrintDefaults, generated from the key table:
 *
 *   -proxy.dialtimeout duration
 *       Upstream connect timeout (HTTP and TCP). (default 30s)
 */
export function usage(program = 'fabio-ts'): string {
  const rows = [
    { name: 'cfg', type: 'string', def: '', help: 'Path to the properties file.' },
    { name: 'v', type: 'bool', def: 'false', help: 'Show the version and exit.' },
    ...KEYS.map((k) => ({
      name: k.name,
      type: k.type,
      def: k.def,
      help: `${k.help}${k.implemented ? '' : ' (not supported by fabio-ts)'}`,
    })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = [`Usage of ${program}:`];
  for (const r of rows) {
    out.push(`  -${r.name}${r.type === 'bool' ? '' : ` ${r.type === 'float' ? 'float' : r.type}`}`);
    const zero = r.def === '' || r.def === 'false' || r.def === '0' || r.def === '0s';
    const dflt = zero ? '' : ` (default ${r.type === 'string' ? goQuote(r.def) : r.def})`;
    out.push(`    \t${r.help}${dflt}`);
  }
  return `${out.join('\n')}\n`;
}
