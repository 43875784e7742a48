/**
 * gRPC status codes (grpc/doc/statuscodes.md) and the names fabio puts in the `code` label of its
 * status metric: Go's codes.Code.String() spelling ("Canceled", not "CANCELLED"), so dashboards
 * built on fabio keep working.
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const GO_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

/** Go's name of a code; an out-of-range code prints as Go does: `Code(<n>)`. */
export function codeName(code: number): string {
  return GO_NAMES[code] ?? `Code(${code})`;
}

/** The numeric value of a `grpc-status` header/trailer, or UNKNOWN when absent or malformed. */
export function parseStatus(v: string | string[] | undefined): number {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || !/^[0-9]{1,3}$/.test(s)) return GrpcCode.UNKNOWN;
  return Number(s);
}

/**
 * `grpc-message` is percent-encoded (gRPC over HTTP/2 spec): every byte outside printable ASCII,
 * and `%` itself, becomes %XX of its UTF-8 bytes.
 */
export function encodeMessage(msg: string): string {
  let out = '';
  for (const b of Buffer.from(msg, 'utf8')) {
    out +=
      b >= 0x20 && b <= 0x7e && b !== 0x25
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
