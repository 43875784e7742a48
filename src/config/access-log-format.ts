import { ConfigError } from './errors.ts';

/**
 * Access-log format names and fields (fabio-reference section (f)). The http helper renders the
 * log; this module only resolves the named formats and validates field names at start-up.
 */

export const ACCESS_LOG_COMMON = '$remote_host - - [$time_common] "$request" $response_status $response_body_size';
export const ACCESS_LOG_COMBINED = `${ACCESS_LOG_COMMON} "$header.Referer" "$header.User-Agent"`;

export const ACCESS_LOG_FIELDS: readonly string[] = [
  'remote_addr',
  'remote_host',
  'remote_port',
  'request',
  'request_args',
  'request_host',
  'request_method',
  'request_proto',
  'request_scheme',
  'request_uri',
  'request_url',
  'response_body_size',
  'response_status',
  'response_time_ms',
  'response_time_ns',
  'response_time_us',
  'time_common',
  'time_rfc3339',
  'time_rfc3339_ms',
  'time_rfc3339_ns',
  'time_rfc3339_us',
  'time_unix_ms',
  'time_unix_ns',
  'time_unix_us',
  'upstream_addr',
  'upstream_attempts',
  'upstream_host',
  'upstream_port',
  'upstream_request_scheme',
  'upstream_request_uri',
  'upstream_request_url',
  'upstream_service',
];

const FIELD_SET = new Set(ACCESS_LOG_FIELDS);

/** `common` / `combined` → their templates; anything else is a custom template, returned as is. */
export function resolveAccessLogFormat(format: string): string {
  if (format === 'common') return ACCESS_LOG_COMMON;
  if (format === 'combined') return ACCESS_LOG_COMBINED;
  return format;
}

/** One piece of a parsed template: literal text, a field, or a request header. */
export type AccessLogPart =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: string }
  | { kind: 'header'; name: string };

/**
 * Split a template into parts. Fields are `$` + `[A-Za-z0-9_-]+`, headers `$header.<Name>`; a `$`
 * not followed by a name character is literal text. Throws ConfigError `empty log format` or
 * `invalid field "$x"` (fabio's texts).
 */
export function parseAccessLogFormat(format: string): AccessLogPart[] {
  const tmpl = resolveAccessLogFormat(format);
  if (tmpl === '') throw new ConfigError('empty log format');
  const parts: AccessLogPart[] = [];
  const re = /\$(header\.([A-Za-z0-9_-]+)|[A-Za-z0-9_-]+)/g;
  let last = 0;
  for (let m = re.exec(tmpl); m !== null; m = re.exec(tmpl)) {
    if (m.index > last) parts.push({ kind: 'text', text: tmpl.slice(last, m.index) });
    if (m[2] !== undefined) parts.push({ kind: 'header', name: m[2] });
    else {
      const name = m[1] as string;
      if (!FIELD_SET.has(name)) throw new ConfigError(`invalid field "$${name}"`);
      parts.push({ kind: 'field', name });
    }
    last = re.lastIndex;
  }
  if (last < tmpl.length) parts.push({ kind: 'text', text: tmpl.slice(last) });
  return parts;
}

/** Validate an access-log format (named or custom); throws ConfigError with fabio's text. */
export function validateAccessLogFormat(format: string): void {
  parseAccessLogFormat(format);
}
