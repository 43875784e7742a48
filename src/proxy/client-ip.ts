/**
 * Client addresses as Go shows them: an IPv4 client of a dual-stack socket is `127.0.0.1`, never
 * `::ffff:127.0.0.1` (fabio issue #4 acceptance), in headers, access rules and logs.
 */

/** Strips the IPv4-mapped IPv6 prefix. */
export function goIp(ip: string | undefined): string {
  if (!ip) return '';
  if (ip.length > 7 && ip.charCodeAt(0) === 58 /* : */ && ip.startsWith('::ffff:') && ip.indexOf('.') > 0)
    return ip.slice(7);
  return ip;
}

/** `ip:port` as Go's RemoteAddr prints it (IPv6 in brackets). */
export function goAddr(ip: string, port: number | undefined): string {
  const h = ip.includes(':') ? `[${ip}]` : ip;
  return `${h}:${port ?? 0}`;
}

/** Splits host:port at the last colon, removing IPv6 brackets; port '' when absent. */
export function splitHostPort(hp: string): { host: string; port: string } {
  if (hp.startsWith('[')) {
    const end = hp.indexOf(']');
    if (end < 0) return { host: hp, port: '' };
    const rest = hp.slice(end + 1);
    return { host: hp.slice(1, end), port: rest.startsWith(':') ? rest.slice(1) : '' };
  }
  const i = hp.lastIndexOf(':');
  if (i < 0 || hp.indexOf(':') !== i) return { host: hp, port: '' };
  return { host: hp.slice(0, i), port: hp.slice(i + 1) };
}
