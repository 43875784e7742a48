/**
 * What the test-suite expects of the machine it runs on. A feature that a supported platform must
 * offer is asserted, not skipped: a test that silently drops its cases when a detection returns
 * nothing cannot catch the day the detection breaks. Skips are for platforms we do not support,
 * always with a reason, and scripts/test.sh fails on any skip not in its allow-list.
 */
import { bareHttp } from '../../src/proxy/http/bare-parser.ts';
import { rawTcpFromEnv } from '../../src/proxy/tcp/raw-handle.ts';

/** The bare-handle API this run's listeners get, as the runtime decides it (FABIO_TS_RAW_TCP). */
const rawTcp = rawTcpFromEnv(process.env);

const major = Number(process.versions.node.split('.')[0]);

/**
 * Why the bare-handle TCP path (src/proxy/tcp/raw-handle.ts) may legitimately be missing here, or
 * undefined when it must be present: Node 20 and 22 on Linux, with FABIO_TS_RAW_TCP not set to 0.
 */
export const rawTcpExemption: string | undefined =
  process.env.FABIO_TS_RAW_TCP === '0'
    ? 'FABIO_TS_RAW_TCP=0 turns the bare-handle path off'
    : process.platform !== 'linux'
      ? `bare handles are only required on Linux (this is ${process.platform})`
      : major !== 20 && major !== 22
        ? `bare handles are only required on Node 20 and 22 (this is ${process.version})`
        : undefined;

/** The raw-path modes a TCP test must run: 'raw' whenever it is required or available. */
export function tcpModes(): readonly ('raw' | 'net')[] {
  return rawTcp !== undefined || rawTcpExemption === undefined ? ['raw', 'net'] : ['net'];
}

/**
 * For a test about to run the raw mode: throws when the raw path is required but missing, returns a
 * skip reason when it is missing and exempt, undefined when it is there.
 */
export function rawTcpSkip(): string | undefined {
  if (rawTcp !== undefined) return undefined;
  if (rawTcpExemption === undefined)
    throw new Error(
      `the bare-handle TCP path is unavailable on ${process.platform} Node ${process.version}, where it is required (process.binding('tcp_wrap'/'stream_wrap') changed?)`,
    );
  return rawTcpExemption;
}

/**
 * Why the bare-handle HTTP client side (src/proxy/http/bare-parser.ts: bare TCP handles plus Node's
 * llhttp) may legitimately be missing here, or undefined when it must be present.
 */
export const bareHttpExemption: string | undefined =
  process.env.FABIO_TS_BARE_HTTP === '0' ? 'FABIO_TS_BARE_HTTP=0 turns the bare HTTP client side off' : rawTcpExemption;

/** For a test about to run a listener on the bare client side: throws when it is required but missing. */
export function bareHttpRequired(): void {
  if (bareHttp === undefined && bareHttpExemption === undefined)
    throw new Error(
      `the bare-handle HTTP client side is unavailable on ${process.platform} Node ${process.version}, where it is required (_http_common HTTPParser changed?)`,
    );
}
