/**
 * Bounds a client-supplied value (SNI name, Host, path, header) before it goes into a log line, so a
 * hostile peer cannot make one connection write kilobytes of log. Control characters are escaped so a
 * value cannot start a fake log line. The one owner of this rule: every log line that quotes a peer's
 * bytes passes them through here.
 */
export const CLIP_MAX = 256;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const HAS_CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/g;

export function clip(value: string, max: number = CLIP_MAX): string {
  const cut = value.length > max;
  let s = cut ? value.slice(0, max) : value;
  if (HAS_CONTROL.test(s)) s = s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return cut ? `${s}...(${value.length - max} more bytes)` : s;
}
