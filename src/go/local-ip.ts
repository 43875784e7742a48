import { networkInterfaces } from 'node:os';

/**
 * This host's own address as fabio picks it, the one copy (issue #16): the default of
 * proxy.localip and the address fabio registers itself with when nothing else is configured.
 */

export type Interfaces = ReturnType<typeof networkInterfaces>;

/** Every non-internal IPv4 address with its interface name, in the order the system lists them. */
export function externalIPv4(ifs: Interfaces = networkInterfaces()): { name: string; address: string }[] {
  return Object.entries(ifs).flatMap(([name, addrs]) =>
    (addrs ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => ({ name, address: a.address })),
  );
}

export const isLinkLocal4 = (ip: string): boolean => ip.startsWith('169.254.');

/**
 * The first non-loopback, non-link-local IPv4 address, or '' (Go's zero value) when there is none.
 * Callers that need an address anyway choose their fallback (`localIP() || '127.0.0.1'`).
 */
export function localIP(ifs: Interfaces = networkInterfaces()): string {
  return externalIPv4(ifs).find((a) => !isLinkLocal4(a.address))?.address ?? '';
}
