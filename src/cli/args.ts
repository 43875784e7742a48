/**
 * A small Go-flag-like parser for the route tools: `-k v`, `--k v`, `-k=v`, `--k=v`, bare boolean
 * flags, repeatable flags, `--` ends the flags. Throws UsageError (exit code 2) on misuse.
 */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  readonly name: string;
  readonly kind: 'bool' | 'string' | 'list';
}

export interface ParsedArgs {
  readonly flags: Map<string, string[]>;
  readonly positional: string[];
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (name: string, v: string): void => {
    const l = flags.get(name);
    if (l === undefined) flags.set(name, [v]);
    else l.push(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-' || !a.startsWith('-')) {
      positional.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (spec === undefined) throw new UsageError(`flag provided but not defined: -${name}`);
    if (spec.kind === 'bool') {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (!/^(true|false|1|0|t|f|TRUE|FALSE|True|False|T|F)$/.test(v))
        throw new UsageError(`invalid boolean value ${JSON.stringify(v)} for -${name}`);
      add(name, /^(true|1|t)$/i.test(v) ? 'true' : 'false');
      continue;
    }
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag needs an argument: -${name}`);
      v = next;
      i++;
    }
    add(name, v);
  }
  return { flags, positional };
}

/** Last value of a flag (Go semantics: a repeated scalar flag keeps the last value). */
export function flag(p: ParsedArgs, name: string): string | undefined {
  const l = p.flags.get(name);
  return l === undefined ? undefined : l[l.length - 1];
}

export function boolFlag(p: ParsedArgs, name: string): boolean {
  return flag(p, name) === 'true';
}
