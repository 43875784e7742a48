import type { Config } from '../config/types.ts';

/**
 * A Config with some values replaced (used by -dev to point the Consul backend at the embedded
 * catalog). The user's Config stays untouched; reads go to the overrides first.
 */
export function withOverrides(cfg: Config, over: Readonly<Record<string, string | number | boolean>>): Config {
  const values = { ...cfg.values, ...over };
  const pick = (key: string, type: string) => {
    if (!(key in over)) return undefined;
    const v = over[key];
    if (typeof v !== type) throw new TypeError(`config override ${key} is not a ${type}`);
    return v;
  };
  return {
    ...cfg,
    values,
    str: (k) => (pick(k, 'string') as string | undefined) ?? cfg.str(k),
    num: (k) => (pick(k, 'number') as number | undefined) ?? cfg.num(k),
    bool: (k) => (pick(k, 'boolean') as boolean | undefined) ?? cfg.bool(k),
  };
}
