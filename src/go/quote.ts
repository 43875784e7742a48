/**
 * Go's `strconv.Quote`, the one copy (issue #16). fabio quotes tags and opts of generated route
 * commands (and tags when printing the table) with it, and Go's flag and config errors quote
 * values with it, so the exact escapes are part of the route text format and of error messages.
 * test/go/go-compat.test.ts pins strconv's own test cases.
 */

const HEX = '0123456789abcdef';

function hex(n: number, width: number): string {
  let s = '';
  for (let i = width - 1; i >= 0; i--) s += HEX[(n >> (i * 4)) & 15];
  return s;
}

/**
 * Go's unicode.IsPrint approximation: letters, marks, numbers, punctuation, symbols and the ASCII
 * space. Other spaces, controls, format chars and unassigned code points are escaped.
 */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/**
 * `strconv.Quote(s)`: double quotes, Go's short escapes, `\xNN` for other ASCII controls,
 * `\uNNNN`/`\UNNNNNNNN` for non-printable runes. A lone UTF-16 surrogate (no Go string can hold
 * one: it would be an invalid UTF-8 sequence, which Go replaces on decoding) prints as `\ufffd`.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp >= 0x20 && cp < 0x7f) {
      out += ch;
      continue;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      out += '\\ufffd';
      continue;
    } // lone surrogate = invalid UTF-8 in Go
    if (cp >= 0x80 && PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    if (cp < 0x80) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}
