/**
 * IP addresses as Go prints them (net.IP.String, net.JoinHostPort), the one copy (issue #16).
 * Node reports an IPv4 peer of a dual-stack socket as `::ffff:127.0.0.1`; Go, and so fabio, shows
 * `127.0.0.1` (fabio issue #4 acceptance) in headers, access rules, PROXY headers and logs.
 */

/**
 * net.IP.String of an address Node reports: an IPv4-mapped IPv6 address in its dotted IPv4 form,
 * anything else unchanged; '' for a missing address. Node always writes the mapped form as
 * `::ffff:a.b.c.d`, so only that spelling is recognised. // hot path
 */
export function goIp(ip: string | undefined): string {
  if (!ip) return '';
  if (ip.length > 7 && ip.charCodeAt(0) === 58 /* : */ && ip.startsWith('::ffff:') && ip.indexOf('.') > 0)
    return ip.slice(7);
  return ip;
}

/** net.JoinHostPort(ip, port): `ip:port`, an IPv6 address in brackets (Go's RemoteAddr form). */
export function goAddr(ip: string, port: number | undefined): string {
  const h = ip.includes(':') ? `[${ip}]` : ip;
  return `${h}:${port ?? 0}`;
}
