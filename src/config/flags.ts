import { versionString } from '../version.ts';
import { ConfigError, ConfigExit } from './errors.ts';
import { KEY_BY_NAME } from './keys.ts';
import { usage } from './usage.ts';

/** Result of reading the command line the way fabio does (config/load.go `parse` + Go's flag package). */
export interface ParsedArgs {
  /** Flag values by key name, as written. */
  readonly flags: Map<string, string>;
  /** -cfg path ('' when none). */
  readonly cfgPath: string;
  /** Arguments after the first non-flag argument (Go stops there; fabio ignores them). */
  readonly rest: readonly string[];
}

const INVALID_CFG = 'invalid or missing path to config file';

export function versionLine(): string {
  return `${versionString()} node${process.versions.node}`;
}

/** Pass 1 (fabio's own pre-parse): -v, -cfg, -test.* are taken out before the flag package runs. */
function preParse(argv: readonly string[]): { cmd: string[]; cfgPath: string } {
  const cmd: string[] = [];
  let cfgPath = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-v' || a === '-version' || a === '--version') throw new ConfigExit('version', `${versionLine()}\n`);
    if (a === '-cfg' || a === '--cfg') {
      if (i >= argv.length - 1) throw new ConfigError(INVALID_CFG);
      cfgPath = argv[++i] as string;
      // fabio accepts `-cfg ''` and then loads no file; an empty path is always a mistake.
      if (cfgPath === '') throw new ConfigError(INVALID_CFG);
    } else if (a.startsWith('-cfg=') || a.startsWith('--cfg=')) {
      let p = a.slice(a.indexOf('=') + 1);
      if (p === '') throw new ConfigError(INVALID_CFG);
      if (p[0] === "'") p = p.replace(/^'+|'+$/g, '');
      else if (p[0] === '"') p = p.replace(/^"+|"+$/g, '');
      if (p === '') throw new ConfigError(INVALID_CFG);
      cfgPath = p;
    } else if (a.startsWith('-test.')) {
      // go test flags: ignored
    } else cmd.push(a);
  }
  return { cmd, cfgPath };
}

/** Parse argv (without the program name) with Go flag semantics. Throws ConfigError / ConfigExit. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { cmd, cfgPath } = preParse(argv);
  const flags = new Map<string, string>();
  let i = 0;
  while (i < cmd.length) {
    const s = cmd[i] as string;
    if (s.length < 2 || s[0] !== '-') break;
    let minuses = 1;
    if (s[1] === '-') {
      minuses = 2;
      if (s.length === 2) {
        i++;
        break; // "--" ends the flags
      }
    }
    const body = s.slice(minuses);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new ConfigError(`bad flag syntax: ${s}`);
    i++;
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    const def = KEY_BY_NAME.get(name);
    if (!def) {
      if (name === 'h' || name === 'help') throw new ConfigExit('help', usage());
      throw new ConfigError(`flag provided but not defined: -${name}`);
    }
    if (def.type === 'bool') value ??= 'true';
    else if (value === undefined) {
      if (i >= cmd.length) throw new ConfigError(`flag needs an argument: -${name}`);
      value = cmd[i++] as string;
    }
    flags.set(name, value);
  }
  return { flags, cfgPath, rest: cmd.slice(i) };
}
