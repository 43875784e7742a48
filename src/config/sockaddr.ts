import { networkInterfaces } from 'node:os';
import { type Interfaces, isLinkLocal4, externalIPv4 as v4 } from '../go/local-ip.ts';
import { ConfigError } from './errors.ts';

/**
 * A minimal subset of go-sockaddr templates, which fabio applies to listener addresses,
 * proxy.localip and registry.consul.register.addr: `{{ GetPrivateIP }}`, `{{ GetPublicIP }}` and
 * `{{ GetInterfaceIP "eth0" }}`. Anything else fails at start-up with a clear message rather than
 * binding somewhere unexpected.
 */

function isPrivate4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  return a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128);
}

/** Render go-sockaddr template expressions in `s`; strings without `{{` are returned unchanged. */
export function renderSockaddr(s: string, ifs?: Interfaces): string {
  if (!s.includes('{{')) return s;
  const all = () => ifs ?? networkInterfaces();
  return s.replace(/\{\{(.*?)\}\}/g, (_m, expr: string) => {
    const e = expr.trim();
    let ip: string | undefined;
    let what: string;
    if (e === 'GetPrivateIP') {
      what = 'private IP';
      ip = v4(all()).find((a) => isPrivate4(a.address))?.address;
    } else if (e === 'GetPublicIP') {
      what = 'public IP';
      ip = v4(all()).find((a) => !isPrivate4(a.address) && !isLinkLocal4(a.address))?.address;
    } else {
      const m = /^GetInterfaceIP\s+"([^"]+)"$/.exec(e);
      if (!m) {
        throw new ConfigError(
          `unable to parse address template "${s}": fabio-ts supports only {{ GetPrivateIP }}, {{ GetPublicIP }} and {{ GetInterfaceIP "name" }}`,
        );
      }
      what = `IP of interface ${m[1]}`;
      ip = v4(all()).find((a) => a.name === m[1])?.address;
    }
    if (ip === undefined) throw new ConfigError(`unable to render address template "${s}": no ${what} found`);
    return ip;
  });
}
