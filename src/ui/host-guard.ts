import { isIP } from 'node:net';

/**
 * Which `Host` header values name this admin server. A write to the admin API must carry one of
 * them, whatever its Origin says: with DNS rebinding a page on `evil.example` resolves that name to
 * this node, and its requests then carry `Host: evil.example:9998` and the matching
 * `Origin: http://evil.example:9998`, so an Origin-equals-Host check passes. The attacker controls
 * the name but not the Host the browser sends for it, so a list of our own names stops it. Binding
 * to localhost does not help: the browser runs on the same machine.
 *
 * Names are compared without the port: an SSH tunnel (`ssh -L 8080:localhost:9998`) or a proxy in
 * front changes the port but not the name, and the port gives no protection against rebinding.
 */

const LOOPBACK = ['localhost', '127.0.0.1', '::1'];

/** The name part of a Host header (or a host:port entry), lower-case, without brackets, port and trailing dot. */
export function hostName(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end < 0 ? h.slice(1) : h.slice(1, end);
  } else {
    const i = h.lastIndexOf(':');
    // one colon: name:port; several: a bare IPv6 address (not valid in Host, but harmless here)
    if (i >= 0 && h.indexOf(':') === i) h = h.slice(0, i);
  }
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export interface AdminHostOptions {
  /** Host of ui.addr ('' or an unspecified address when bound to every interface). */
  readonly boundHost: string;
  /** registry.consul.register.addr ('' or ':port' when not set to an address). */
  readonly registerAddr: string;
  /** ui.allowedhosts: comma-separated names; `*` accepts any Host (protection off). */
  readonly allowedHosts: string;
}

export interface AdminHosts {
  /** Whether `host` (a Host header value) names this server; `localAddress` is the socket's own address. */
  allows(host: string | undefined, localAddress: string | undefined): boolean;
}

/** The admin server's own names: loopback names, ui.addr's host, the registered address, ui.allowedhosts. */
export function adminHosts(o: AdminHostOptions): AdminHosts {
  const names = new Set<string>(LOOPBACK);
  let any = false;
  const add = (s: string): void => {
    const n = hostName(s);
    if (n === '*') any = true;
    else if (n !== '' && n !== '0.0.0.0' && n !== '::') names.add(n);
  };
  add(o.boundHost.includes(':') && !o.boundHost.startsWith('[') ? `[${o.boundHost}]` : o.boundHost);
  add(o.registerAddr);
  for (const s of o.allowedHosts.split(',')) add(s);
  return {
    allows(host, localAddress) {
      if (any) return true;
      if (host === undefined || host === '') return false;
      const n = hostName(host);
      if (names.has(n)) return true;
      // An address literal equal to the address the request arrived on names this server too
      // (admin bound to every interface, browsed by IP). A rebinding page cannot send it: its Host
      // is the attacker's name.
      if (isIP(n) === 0 || localAddress === undefined) return false;
      const local = localAddress.startsWith('::ffff:') ? localAddress.slice(7) : localAddress;
      return n === local.toLowerCase();
    },
  };
}
