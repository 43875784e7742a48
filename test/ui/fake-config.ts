import { KEYS } from '../../src/config/keys.ts';
import type { Config, ListenerSpec } from '../../src/config/types.ts';

/** A Config with every key at its default (plus overrides) and ui on 127.0.0.1:0. */

function parseDur(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) return Number(s) || 0;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[m[2] as 'ms'];
}

export function fakeConfig(over: Record<string, string | boolean | number> = {}): Config {
  const values: Record<string, string | number | boolean> = {};
  for (const k of KEYS) {
    values[k.name] =
      k.type === 'bool'
        ? k.def === 'true'
        : k.type === 'string'
          ? k.def
          : k.type === 'duration'
            ? parseDur(k.def)
            : Number(k.def);
  }
  Object.assign(values, over);
  const ui: ListenerSpec = {
    addr: '127.0.0.1:0',
    host: '127.0.0.1',
    port: 0,
    proto: 'http',
    cs: '',
    readTimeout: 0,
    writeTimeout: 0,
    idleTimeout: 0,
    strictMatch: false,
    tlsMin: undefined,
    tlsMax: undefined,
    tlsCiphers: [],
    proxyProto: false,
    proxyProtoTimeout: 0,
    refresh: 0,
  };
  return {
    str: (k) => String(values[k] ?? ''),
    num: (k) => Number(values[k] ?? 0),
    bool: (k) => values[k] === true || values[k] === 'true',
    values,
    listeners: [],
    ui,
    certSources: new Map(),
    authSchemes: new Map(),
    unsupported: [],
    warnings: [],
  };
}
