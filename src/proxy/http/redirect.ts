import { STATUS_CODES } from 'node:http';

/**
 * Go's http.Redirect answer: Location (non-ASCII hex-escaped), and for GET/HEAD a
 * `text/html; charset=utf-8` content type; GET also gets `<a href="URL">Status Text</a>.\n\n`.
 */
export function redirectResponse(
  code: number,
  url: string,
  method: string,
): { status: number; headers: Record<string, string>; body: string } {
  const location = hexEscapeNonAscii(url);
  const headers: Record<string, string> = { location };
  let body = '';
  if (method === 'GET' || method === 'HEAD') headers['content-type'] = 'text/html; charset=utf-8';
  if (method === 'GET') body = `<a href="${htmlEscape(location)}">${STATUS_CODES[code] ?? ''}</a>.\n\n`;
  return { status: code, headers, body };
}

function hexEscapeNonAscii(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (!/[^\x00-\x7f]/.test(s)) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8'))
    out += b >= 0x80 ? `%${b.toString(16).toUpperCase()}` : String.fromCharCode(b);
  return out;
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' };
function htmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML[c] as string);
}
