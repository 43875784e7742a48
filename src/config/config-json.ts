import { TLS_VERSION_NUMBER } from './listener.ts';
import { parseScheme } from './load.ts';
import type { CertSourceSpec, Config, ListenerSpec } from './types.ts';

/**
 * /api/config in fabio's shape: the Go Config struct marshalled to JSON, so field names are Go's
 * (`{"Proxy":{"Strategy":"rnd",...},"Registry":{...},"Listen":[...],...}`) and durations are
 * nanoseconds. Differences from fabio (docs/compat-config.md): TLSCiphers are the strings as
 * written (fabio shows numbers); GZIPContentTypes is the pattern string (fabio marshals a regexp
 * as {}); fabio-ts-only keys are under "FabioTs".
 */

const ns = (ms: number) => Math.round(ms * 1e6);
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

function certSourceJson(cs: CertSourceSpec | undefined) {
  return {
    Name: cs?.name ?? '',
    Type: cs?.type ?? '',
    CertPath: cs?.cert ?? '',
    KeyPath: cs?.key ?? '',
    ClientCAPath: cs?.clientCA ?? '',
    CAUpgradeCN: cs?.caUpgCN ?? '',
    Refresh: ns(cs?.refresh ?? 0),
    Header:
      cs && Object.keys(cs.header).length > 0
        ? Object.fromEntries(Object.entries(cs.header).map(([k, v]) => [k, [v]]))
        : null,
    VaultFetchToken: cs?.vaultFetchToken ?? '',
  };
}

function listenJson(l: ListenerSpec, cfg: Config) {
  return {
    Addr: l.addr,
    Proto: l.proto,
    ReadTimeout: ns(l.readTimeout),
    WriteTimeout: ns(l.writeTimeout),
    IdleTimeout: ns(l.idleTimeout),
    CertSource: certSourceJson(cfg.certSources.get(l.cs)),
    StrictMatch: l.strictMatch,
    TLSMinVersion: l.tlsMin ? (TLS_VERSION_NUMBER[l.tlsMin] ?? 0) : 0,
    TLSMaxVersion: l.tlsMax ? (TLS_VERSION_NUMBER[l.tlsMax] ?? 0) : 0,
    TLSCiphers: l.tlsCiphers.length > 0 ? [...l.tlsCiphers] : null,
    ProxyProto: l.proxyProto,
    ProxyHeaderTimeout: ns(l.proxyProtoTimeout),
    Refresh: ns(l.refresh),
  };
}

/** Typed readers of configuration keys; `d` gives a duration in Go's nanoseconds. */
function getters(cfg: Config) {
  return {
    s: (k: string) => cfg.str(k),
    n: (k: string) => cfg.num(k),
    b: (k: string) => cfg.bool(k),
    d: (k: string) => ns(cfg.num(k)),
  };
}

/** The Proxy section of /api/config. */
function proxyJson(cfg: Config) {
  const { s, n, b, d } = getters(cfg);
  return {
    Strategy: s('proxy.strategy'),
    Matcher: s('proxy.matcher'),
    NoRouteStatus: n('proxy.noroutestatus'),
    MaxConn: n('proxy.maxconn'),
    ShutdownWait: d('proxy.shutdownwait'),
    DeregisterGracePeriod: d('proxy.deregistergraceperiod'),
    DialTimeout: d('proxy.dialtimeout'),
    ResponseHeaderTimeout: d('proxy.responseheadertimeout'),
    KeepAliveTimeout: d('proxy.keepalivetimeout'),
    IdleConnTimeout: d('proxy.idleconntimeout'),
    LingerTimeout: d('proxy.lingertimeout'),
    RetryAttempts: n('proxy.retry.attempts'),
    OutlierFailures: n('proxy.outlier.failures'),
    OutlierEjectTime: d('proxy.outlier.ejecttime'),
    OutlierMaxPercent: n('proxy.outlier.maxpercent'),
    ListenerMaxConn: n('proxy.listener.maxconn'),
    PxyTrust: s('proxy.pxytrust'),
    HTTP2MaxResets: n('proxy.http2.maxresets'),
    FlushInterval: d('proxy.flushinterval'),
    GlobalFlushInterval: d('proxy.globalflushinterval'),
    LocalIP: s('proxy.localip'),
    ClientIPHeader: s('proxy.header.clientip'),
    TLSHeader: s('proxy.header.tls'),
    TLSHeaderValue: s('proxy.header.tls.value'),
    GZIPContentTypes: s('proxy.gzip.contenttype') || null,
    RequestID: s('proxy.header.requestid'),
    STSHeader: {
      MaxAge: n('proxy.header.sts.maxage'),
      Subdomains: b('proxy.header.sts.subdomains'),
      Preload: b('proxy.header.sts.preload'),
    },
    AuthSchemes: Object.fromEntries(
      [...cfg.authSchemes].map(([name, a]) => [
        name,
        { Name: a.name, Type: a.type, Basic: { File: a.file, Realm: a.realm, Refresh: ns(a.refresh) } },
      ]),
    ),
    GRPCMaxRxMsgSize: n('proxy.grpcmaxrxmsgsize'),
    GRPCMaxTxMsgSize: n('proxy.grpcmaxtxmsgsize'),
    GRPCGShutdownTimeout: d('proxy.grpcshutdowntimeout'),
  };
}

/** The Registry section of /api/config. */
function registryJson(cfg: Config) {
  const { s, n, b, d } = getters(cfg);
  const consul = parseScheme(s('registry.consul.addr'));
  return {
    Backend: s('registry.backend'),
    Static: { NoRouteHTML: s('registry.static.noroutehtml'), Routes: s('registry.static.routes') },
    File: { NoRouteHTMLPath: s('registry.file.noroutehtmlpath'), RoutesPath: s('registry.file.path') },
    Consul: {
      Addr: consul.addr,
      Scheme: consul.scheme,
      Token: s('registry.consul.token'),
      Namespace: s('registry.consul.namespace'),
      KVPath: s('registry.consul.kvpath'),
      NoRouteHTMLPath: s('registry.consul.noroutehtmlpath'),
      TagPrefix: s('registry.consul.tagprefix'),
      Register: b('registry.consul.register.enabled'),
      ServiceAddr: s('registry.consul.register.addr'),
      ServiceName: s('registry.consul.register.name'),
      ServiceTags: list(s('registry.consul.register.tags')),
      ServiceStatus: list(s('registry.consul.service.status')),
      CheckInterval: d('registry.consul.register.checkInterval'),
      CheckTimeout: d('registry.consul.register.checkTimeout'),
      CheckScheme: cfg.ui.cs !== '' ? 'https' : 'http',
      CheckTLSSkipVerify: b('registry.consul.register.checkTLSSkipVerify'),
      CheckDeregisterCriticalServiceAfter: s('registry.consul.register.checkDeregisterCriticalServiceAfter'),
      ChecksRequired: s('registry.consul.checksRequired'),
      ServiceMonitors: n('registry.consul.serviceMonitors'),
      PollInterval: d('registry.consul.pollinterval'),
      Watch: s('registry.consul.watch'),
      MaxBody: n('registry.consul.maxbody'),
      RequireConsistent: b('registry.consul.requireConsistent'),
      AllowStale: b('registry.consul.allowStale'),
      TLS: {
        KeyFile: s('registry.consul.tls.keyfile'),
        CertFile: s('registry.consul.tls.certfile'),
        CAFile: s('registry.consul.tls.cafile'),
        CAPath: s('registry.consul.tls.capath'),
        InsecureSkipVerify: b('registry.consul.tls.insecureskipverify'),
      },
    },
    Custom: {
      Host: s('registry.custom.host'),
      Scheme: s('registry.custom.scheme'),
      Path: s('registry.custom.path'),
      QueryParams: s('registry.custom.queryparams'),
      Timeout: d('registry.custom.timeout'),
      PollInterval: d('registry.custom.pollinterval'),
      CheckTLSSkipVerify: b('registry.custom.checkTLSSkipVerify'),
      NoRouteHTML: s('registry.custom.noroutehtml'),
    },
    Timeout: d('registry.timeout'),
    Retry: d('registry.retry'),
  };
}

/** The Metrics section of /api/config. */
function metricsJson(cfg: Config) {
  const { s, d } = getters(cfg);
  return {
    Target: s('metrics.target'),
    Prefix: s('metrics.prefix'),
    Names: s('metrics.names'),
    Interval: d('metrics.interval'),
    Timeout: d('metrics.timeout'),
    Retry: d('metrics.retry'),
    GraphiteAddr: s('metrics.graphite.addr'),
    StatsDAddr: s('metrics.statsd.addr'),
    DogstatsdAddr: s('metrics.dogstatsd.addr'),
    Circonus: {
      APIKey: s('metrics.circonus.apikey'),
      APIApp: s('metrics.circonus.apiapp'),
      APIURL: s('metrics.circonus.apiurl'),
      CheckID: s('metrics.circonus.checkid'),
      BrokerID: s('metrics.circonus.brokerid'),
      SubmissionURL: s('metrics.circonus.submissionurl'),
    },
    Prometheus: {
      Subsystem: s('metrics.prometheus.subsystem'),
      Path: s('metrics.prometheus.path'),
      Buckets: list(s('metrics.prometheus.buckets')).map(Number),
    },
  };
}

/** The whole configuration as fabio's /api/config prints it (secrets included, as fabio does). */
export function configJson(cfg: Config): Record<string, unknown> {
  const { s, n, b } = getters(cfg);
  return {
    Proxy: proxyJson(cfg),
    Registry: registryJson(cfg),
    Listen: cfg.listeners.map((l) => listenJson(l, cfg)),
    Log: {
      AccessFormat: s('log.access.format'),
      AccessTarget: s('log.access.target'),
      RoutesFormat: s('log.routes.format'),
      Level: s('log.level'),
    },
    Metrics: metricsJson(cfg),
    UI: {
      Listen: listenJson(cfg.ui, cfg),
      Color: s('ui.color'),
      Title: s('ui.title'),
      Access: s('ui.access'),
      Path: s('ui.path'),
      RoutingTable: {
        Source: {
          LinkEnabled: b('ui.routingtable.source.linkenabled'),
          NewTab: b('ui.routingtable.source.newtab'),
          Scheme: s('ui.routingtable.source.scheme'),
          Host: s('ui.routingtable.source.host'),
          Port: s('ui.routingtable.source.port'),
        },
      },
    },
    Runtime: { GOGC: n('runtime.gogc'), GOMAXPROCS: n('runtime.gomaxprocs') },
    ProfileMode: s('profile.mode'),
    ProfilePath: s('profile.path'),
    Insecure: b('insecure'),
    GlobMatchingDisabled: b('glob.matching.disabled'),
    GlobCacheSize: n('glob.cache.size'),
    BGP: {
      BGPEnabled: b('bgp.enabled'),
      Asn: n('bgp.asn'),
      AnycastAddresses: list(s('bgp.anycastaddresses')),
      RouterID: s('bgp.routerid'),
      ListenPort: n('bgp.listenport'),
      ListenAddresses: list(s('bgp.listenaddresses')),
      Peers: null,
      EnableGRPC: b('bgp.enablegrpc'),
      GRPCListenAddress: s('bgp.grpclistenaddress'),
      NextHop: s('bgp.nexthop'),
      GOBGPDCfgFile: s('bgp.gobgpdcfgfile'),
    },
    FabioTs: {
      Workers: n('proxy.workers'),
      TraceHeader: s('proxy.header.trace'),
      FileWatch: b('registry.file.watch'),
      Dev: b('dev'),
      DevAddr: s('dev.addr'),
      UIAllowedHosts: s('ui.allowedhosts'),
    },
  };
}
