import type { Table } from '../routes/types.ts';

/**
 * What-if for the Overrides editor: the live route text with one KV override replaced by the
 * edited value, built into a table that is never swapped in, and compared with the live table.
 *
 * The live text is `service routes + "\n" + overrides`, the overrides being `# --- <key>` sections
 * sorted by key and joined by a blank line (src/registry/consul/kv.ts manualText). The section of
 * `key` is replaced (or added in key order); the others stay as they are live.
 */

export interface PreviewRoute {
  readonly service: string;
  readonly src: string;
  readonly dst: string;
  readonly weight: number;
}

export interface PreviewResult {
  /** Problems on lines of the edited override; `line` counts from 1 in the edited text. */
  readonly errors: { line: number; message: string }[];
  readonly added: PreviewRoute[];
  readonly removed: PreviewRoute[];
  readonly reweighted: (PreviewRoute & { from: number })[];
  readonly unchanged: number;
  /** Routes (targets) in the previewed table. */
  readonly total: number;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The live text with the `# --- key` section's body replaced by `value`; and where that body starts. */
export function withOverride(
  source: string,
  prefix: string,
  key: string,
  value: string,
): { text: string; firstLine: number } {
  const marker = new RegExp(`^# --- (${escapeRe(prefix)}(?:/[^\\n]*)?)$`, 'gm');
  const heads: { key: string; at: number }[] = [];
  for (const m of source.matchAll(marker)) heads.push({ key: m[1] as string, at: m.index ?? 0 });
  const services = heads.length === 0 ? source.replace(/\n+$/, '') : source.slice(0, heads[0]!.at).replace(/\n$/, '');
  const sections = new Map<string, string>();
  heads.forEach((h, i) => {
    const end = i + 1 < heads.length ? heads[i + 1]!.at : source.length;
    sections.set(
      h.key,
      source
        .slice(h.at + h.key.length + 7, end)
        .replace(/^\n/, '')
        .replace(/\n+$/, ''),
    );
  });
  sections.set(key, value.trim());
  const keys = [...sections.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let text = `${services}\n`;
  let firstLine = 0;
  keys.forEach((k, i) => {
    if (i > 0) text += '\n\n';
    text += `# --- ${k}\n`;
    if (k === key) firstLine = text.split('\n').length;
    text += sections.get(k);
  });
  return { text, firstLine };
}

function rows(t: Table | undefined): Map<string, PreviewRoute> {
  const out = new Map<string, PreviewRoute>();
  for (const r of t?.routes ?? [])
    for (const x of r.targets) {
      const row = { service: x.service, src: r.host + r.path, dst: x.url, weight: x.weight };
      out.set(`${row.service}\u0000${row.src}\u0000${row.dst}`, row);
    }
  return out;
}

const LINE_PREFIX = /^line \d+: /;
const KV_SUFFIX = /; line skipped \(KV key [^)]*\)$/;

/** The preview of `value` as the override `key`: line errors and the table diff. Throws what build throws. */
export function preview(
  live: Table | undefined,
  build: (text: string) => Table,
  prefix: string,
  key: string,
  value: string,
): PreviewResult {
  const { text, firstLine } = withOverride(live?.source ?? '', prefix, key, value);
  const next = build(text);
  const lastLine = firstLine + value.trim().split('\n').length - 1;
  const errors = next.warnings
    .filter((w) => w.line >= firstLine && w.line <= lastLine)
    .map((w) => ({ line: w.line - firstLine + 1, message: w.message.replace(LINE_PREFIX, '').replace(KV_SUFFIX, '') }))
    .sort((a, b) => a.line - b.line);
  const before = rows(live);
  const after = rows(next);
  const added: PreviewRoute[] = [];
  const removed: PreviewRoute[] = [];
  const reweighted: (PreviewRoute & { from: number })[] = [];
  let unchanged = 0;
  for (const [k, r] of after) {
    const old = before.get(k);
    if (!old) added.push(r);
    else if (Math.abs(old.weight - r.weight) > 1e-9) reweighted.push({ ...r, from: old.weight });
    else unchanged++;
  }
  for (const [k, r] of before) if (!after.has(k)) removed.push(r);
  return { errors, added, removed, reweighted, unchanged, total: after.size };
}
