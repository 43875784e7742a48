/**
 * `grpc-timeout` (gRPC over HTTP/2 spec): 1 to 8 ASCII digits and a unit H, M, S, m, u or n.
 * Returns milliseconds (rounded up so a deadline never fires early), or undefined when absent or
 * malformed (a malformed header is forwarded untouched; the upstream decides).
 */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

export function parseGrpcTimeout(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  const m = /^([0-9]{1,8})([HMSmun])$/.exec(s);
  if (m === null) return undefined;
  return Math.ceil(Number(m[1]) * (UNIT_MS[m[2] as string] as number));
}
