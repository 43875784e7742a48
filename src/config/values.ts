import { goQuote } from '../go/quote.ts';
import { ConfigError } from './errors.ts';
import { parseBool, parseDuration, parseGoFloat, parseGoInt } from './go-values.ts';
import type { KeyDef } from './keys.ts';

/** A raw value and where it came from (for error messages and the unsupported-key report). */
export interface RawValue {
  readonly value: string;
  /** 'flag', 'env NAME', 'file PATH', or 'default'. */
  readonly source: string;
}

/** Typed value of a key: string → string, bool → boolean, int/float → number, duration → ms. */
export function typedValue(def: KeyDef, raw: RawValue): string | number | boolean {
  const fail = (err: unknown): never => {
    const why = err instanceof Error ? err.message : String(err);
    const reason = why === 'value out of range' ? why : 'parse error';
    const where = raw.source === 'flag' || raw.source === 'default' ? '' : ` (from ${raw.source})`;
    const msg =
      def.type === 'bool' && raw.source === 'flag'
        ? `invalid boolean value ${goQuote(raw.value)} for -${def.name}: ${reason}`
        : `invalid value ${goQuote(raw.value)} for flag -${def.name}: ${reason}${where}`;
    throw new ConfigError(msg, { cause: err });
  };
  try {
    switch (def.type) {
      case 'string':
        return raw.value;
      case 'bool':
        return parseBool(raw.value);
      case 'int':
        return parseGoInt(raw.value);
      case 'float':
        return parseGoFloat(raw.value);
      case 'duration':
        return parseDuration(raw.value);
    }
  } catch (err) {
    return fail(err);
  }
}
