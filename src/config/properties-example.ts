import { KEYS, type KeyDef } from './keys.ts';

/**
 * The text of fabio.properties.example, generated from the key table so that it cannot drift
 * (scripts/gen-properties-example.ts writes it; a test compares the committed file).
 * Laid out like fabio's own fabio.properties: help text as comments, then `# key = default`.
 */

const WIDTH = 100;

function wrap(text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > WIDTH - 2) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out.map((l) => `# ${l}`);
}

function note(k: KeyDef): string | undefined {
  if (k.fabioTs) return 'fabio-ts only: fabio does not have this key.';
  if (k.ignored) return 'Accepted for compatibility and ignored.';
  if (!k.implemented) return 'Not supported by fabio-ts: accepted, and reported once at start-up when set.';
  return undefined;
}

export function propertiesExample(): string {
  const out: string[] = [
    '# fabio-ts configuration example.',
    '#',
    '# Generated from src/config/keys.ts by `npx tsx scripts/gen-properties-example.ts`; do not edit by hand.',
    '#',
    '# Every key is listed, commented out, with its default value. Uncomment and change what you need and',
    '# start fabio-ts with `-cfg fabio.properties`. Syntax: `key = value`, `#` or `!` comments, a trailing',
    '# backslash continues a line, ${name} expands another key or an environment variable.',
    '#',
    '# Keys in this file are case-sensitive (as in fabio). The command line (-key=value) and the',
    '# environment (FABIO_<key> or <key> with dots as underscores, case-insensitive) override this file.',
    '# Durations use Go syntax: 500ms, 3s, 1m30s.',
  ];
  let group = '';
  for (const k of KEYS) {
    if (k.group !== group) {
      group = k.group;
      out.push('', '', `# ---- ${group}`);
    }
    out.push('', ...wrap(k.help));
    const n = note(k);
    if (n) out.push('#', ...wrap(n));
    out.push('#', `# ${k.name} =${k.def === '' ? '' : ` ${k.def}`}`);
  }
  return `${out.join('\n')}\n`;
}
