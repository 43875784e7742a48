import type { Config, ListenerSpec } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/types.ts';
import type { TableStore } from '../routes/table-store.ts';
import type { RawTcp } from './tcp/raw-handle.ts';
import type { TcpShared } from './tcp/shared.ts';

/** Everything a listener needs, injected by src/runtime. */
export interface ProxyDeps {
  readonly cfg: Config;
  readonly store: TableStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The current no-route HTML ('' = empty body). */
  noRouteHtml(): string;
  /** Access log line writer (already formatted lines), or undefined when log.access.target is off. */
  readonly accessLog: ((line: string) => void) | undefined;
  /**
   * The bare-handle API the TCP listeners may accept connections with (src/proxy/tcp/raw-handle.ts);
   * undefined: every connection goes through net.Socket. The runtime sets it once at start-up
   * (`rawTcpFromEnv`: `FABIO_TS_RAW_TCP=0` leaves it out); tests choose per listener.
   */
  readonly rawTcp?: RawTcp | undefined;
  /**
   * Keep-alive scheduler and bulk buffer pool shared by the TCP/SNI listeners of one data plane
   * (src/proxy/tcp/shared.ts); a listener started without it makes its own.
   */
  readonly tcpShared?: TcpShared | undefined;
}

export interface RunningListener {
  readonly spec: ListenerSpec;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /** Stop accepting; let open requests/connections finish for up to `graceMs`, then destroy them. */
  close(graceMs: number): Promise<void>;
}

/** Prometheus exposition for proto=prometheus listeners (provided by src/metrics). */
export type PrometheusText = () => Promise<{ readonly contentType: string; readonly body: string }>;
