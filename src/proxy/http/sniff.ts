/**
 * A reduced Go http.DetectContentType: fabio's responses always carry a Content-Type because Go's
 * ResponseWriter sniffs a missing one from the first bytes (and the gzip rule matches on it). The
 * common cases are kept: HTML, XML, PDF, PNG, GIF, JPEG, ZIP, gzip, plain text vs binary.
 */
const WS = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const HTML = [
  '<!DOCTYPE HTML',
  '<HTML',
  '<HEAD',
  '<SCRIPT',
  '<IFRAME',
  '<H1',
  '<DIV',
  '<FONT',
  '<TABLE',
  '<A',
  '<STYLE',
  '<TITLE',
  '<B',
  '<BODY',
  '<BR',
  '<P',
  '<!--',
];
const MAGIC: [number[], string][] = [
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b, 0x08], 'application/x-gzip'],
];

function startsWith(b: Buffer, at: number, sig: number[]): boolean {
  if (b.length - at < sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

export function sniffContentType(chunk: Buffer): string {
  const b = chunk.length > 512 ? chunk.subarray(0, 512) : chunk;
  let i = 0;
  while (i < b.length && WS.has(b[i] as number)) i++;
  const head = b.toString('latin1', i, Math.min(b.length, i + 16)).toUpperCase();
  for (const sig of HTML) {
    if (head.startsWith(sig)) {
      const next = head.charCodeAt(sig.length);
      if (head.length === sig.length || next === 0x20 || next === 0x3e) return 'text/html; charset=utf-8';
    }
  }
  if (head.startsWith('<?XML')) return 'text/xml; charset=utf-8';
  for (const [sig, type] of MAGIC) if (startsWith(b, 0, sig)) return type;
  for (const c of b) {
    if (c <= 0x08 || c === 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f))
      return 'application/octet-stream';
  }
  return 'text/plain; charset=utf-8';
}
