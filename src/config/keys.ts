/**
 * Every configuration key of fabio-ts in one table: name, type, default, help, and whether it is
 * implemented. `fabio.properties.example`, `--help` and `/api/config` are generated from it, so a key
 * cannot exist in one place and not in another.
 *
 * Names, defaults and meanings follow fabio 1.7.3 (docs/fabio-reference.md section (c)).
 * Keys marked `fabioTs: true` are our additions and are listed in docs/compat.md.
 *
 * Value representation after loading:
 *   string → string, bool → boolean, int/float → number, duration → number of milliseconds.
 */

export type KeyType = 'string' | 'bool' | 'int' | 'float' | 'duration';

export interface KeyDef {
  readonly name: string;
  readonly type: KeyType;
  /** Default as fabio writes it (Go duration syntax for durations). */
  readonly def: string;
  readonly help: string;
  /** Section heading in fabio.properties.example. */
  readonly group: string;
  /** false: accepted for compatibility but reported once at start-up as not supported. */
  readonly implemented: boolean;
  /** Accepted and ignored without a warning (fabio itself ignores it). */
  readonly ignored?: boolean;
  /** A key fabio does not have. */
  readonly fabioTs?: boolean;
}

const k = (
  group: string,
  name: string,
  type: KeyType,
  def: string,
  help: string,
  extra: Partial<Pick<KeyDef, 'implemented' | 'ignored' | 'fabioTs'>> = {},
): KeyDef => ({ group, name, type, def, help, implemented: extra.implemented ?? true, ...extra });

export const KEYS: readonly KeyDef[] = [
  // ---- proxy
  k(
    'proxy',
    'proxy.addr',
    'string',
    ':9999',
    'Listener list: [host]:port[;opt=val...][,...] with proto=http|https|tcp|tcp+sni|tcp-dynamic|https+tcp+sni|grpc|grpcs|prometheus, cs, rt, wt, it, strictmatch, tlsmin, tlsmax, tlsciphers, pxyproto, pxytimeout, refresh.',
  ),
  k(
    'proxy',
    'proxy.cs',
    'string',
    '',
    'Certificate sources: cs=<name>;type=<file|path|http|consul|vault|vault-pki>;cert=...;key=...;clientca=...;caupgcn=...;refresh=...;hdr=Name: value;vaultfetchtoken=env:VAR|file:path. vault and vault-pki read VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT and VAULT_SKIP_VERIFY from the environment.',
  ),
  k(
    'proxy',
    'proxy.auth',
    'string',
    '',
    'Authorization schemes: name=<n>;type=basic;file=<htpasswd>;realm=<r>;refresh=<dur>[,...]',
  ),
  k(
    'proxy',
    'proxy.strategy',
    'string',
    'rnd',
    'Target picker: rnd (random over the weighted ring), rr (round-robin over the weighted ring) or p2c (fabio-ts: power of two weighted random choices, the one with fewer outstanding requests wins).',
  ),
  k(
    'proxy',
    'proxy.retry.attempts',
    'int',
    '1',
    'Retries of a failed HTTP request on a different target of the same route, only when repeating is safe: the connection failed before the request was sent (any body-less request), or a body-less GET, HEAD or OPTIONS failed before any response byte. Route option retries=N overrides it; 0 = no retry (fabio).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.outlier.failures',
    'int',
    '5',
    'Consecutive failures (connect failure, reset, timeout, 5xx answer) after which a target is ejected from balancing for proxy.outlier.ejecttime; 0 = never eject (fabio).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.outlier.ejecttime',
    'duration',
    '30s',
    'How long an ejected target is left out; doubled on each repeated ejection, capped at 5m. After it, one trial request decides.',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.outlier.maxpercent',
    'int',
    '50',
    'At most this percentage of the targets of a route is ejected at once.',
    { fabioTs: true },
  ),
  k('proxy', 'proxy.matcher', 'string', 'prefix', 'Path matcher: prefix, iprefix (case-insensitive prefix) or glob.'),
  k('proxy', 'proxy.noroutestatus', 'int', '404', 'HTTP status code returned when no route matches (100-999).'),
  k(
    'proxy',
    'proxy.shutdownwait',
    'duration',
    '0s',
    'How long in-flight requests and connections may take to finish on shutdown.',
  ),
  k(
    'proxy',
    'proxy.deregistergraceperiod',
    'duration',
    '0s',
    'After a shutdown signal: deregister from Consul, wait this long, then stop the listeners.',
  ),
  k(
    'proxy',
    'proxy.responseheadertimeout',
    'duration',
    '0s',
    'How long to wait for the upstream response headers (0 = no limit). A timeout answers 504.',
  ),
  k('proxy', 'proxy.keepalivetimeout', 'duration', '0s', 'TCP keep-alive period of upstream connections (0 = 15s).'),
  k('proxy', 'proxy.idleconntimeout', 'duration', '15s', 'How long an idle pooled upstream connection is kept.'),
  k('proxy', 'proxy.dialtimeout', 'duration', '30s', 'Upstream connect timeout (HTTP and TCP).'),
  k(
    'proxy',
    'proxy.flushinterval',
    'duration',
    '1s',
    'Flush interval for responses to requests with Accept: text/event-stream.',
  ),
  k(
    'proxy',
    'proxy.globalflushinterval',
    'duration',
    '0s',
    'Flush interval for all other responses (0 = stream as data arrives).',
  ),
  k(
    'proxy',
    'proxy.maxconn',
    'int',
    '10000',
    'Maximum connections per upstream target, busy and idle together (further requests wait for one); the lean HTTP/1.1 path keeps at most this many idle.',
  ),
  k(
    'proxy',
    'proxy.http2.maxresets',
    'int',
    '200',
    'Stream resets one HTTP/2 client connection may cause in a burst (the budget refills at a tenth of this per second) before it gets GOAWAY and is closed (0 = no limit of ours).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.lingertimeout',
    'duration',
    '5s',
    'Once one side of a TCP, SNI, tcp-dynamic or websocket connection has ended, how long the other side may still send before both are closed (0 = close both at once, as fabio).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.listener.maxconn',
    'int',
    '0',
    'Most connections open at once on each tcp, tcp+sni, tcp-dynamic and https+tcp+sni listener (per worker process); connections over it are closed at once, counted in tcp.refused / tcp_sni.refused and logged once per episode (0 = unlimited, as fabio).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.pxytrust',
    'string',
    '',
    'Comma-separated CIDRs or addresses whose PROXY protocol header is honoured on pxyproto=true listeners (TCP and HTTP); a header from any other peer closes the connection. Empty = every peer, as fabio: anyone who can reach the listener can then choose the client address that access rules and X-Forwarded-For see.',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.localip',
    'string',
    '',
    'IP of this host, used in Forwarded: by= and as the registration address fallback (default: first non-loopback IPv4 address).',
  ),
  k(
    'proxy',
    'proxy.header.clientip',
    'string',
    '',
    'Request header set to the client IP (not applied when it is X-Forwarded-For or X-Real-Ip).',
  ),
  k('proxy', 'proxy.header.tls', 'string', '', 'Request header set on TLS requests (removed from plain requests).'),
  k('proxy', 'proxy.header.tls.value', 'string', '', 'Value of proxy.header.tls.'),
  k('proxy', 'proxy.header.requestid', 'string', '', 'Request header overwritten with a new 36-character request id.'),
  k('proxy', 'proxy.header.sts.maxage', 'int', '0', 'Strict-Transport-Security max-age on TLS responses (0 = off).'),
  k(
    'proxy',
    'proxy.header.sts.subdomains',
    'bool',
    'false',
    'Append "; includeSubdomains" to Strict-Transport-Security.',
  ),
  k('proxy', 'proxy.header.sts.preload', 'bool', 'false', 'Append "; preload" to Strict-Transport-Security.'),
  k(
    'proxy',
    'proxy.header.trace',
    'string',
    'Trace',
    'Request header that turns on TRACE route tracing for one request (log.level=TRACE).',
    { fabioTs: true },
  ),
  k(
    'proxy',
    'proxy.gzip.contenttype',
    'string',
    '',
    'Regular expression of response content types to gzip when the client accepts gzip (empty = off).',
  ),
  k(
    'proxy',
    'proxy.grpcmaxrxmsgsize',
    'int',
    '4194304',
    'gRPC maximum message size in bytes received from clients and from upstreams (larger: RESOURCE_EXHAUSTED).',
  ),
  k(
    'proxy',
    'proxy.grpcmaxtxmsgsize',
    'int',
    '4194304',
    'gRPC maximum message size in bytes sent to clients (larger: RESOURCE_EXHAUSTED).',
  ),
  k(
    'proxy',
    'proxy.grpcshutdowntimeout',
    'duration',
    '2s',
    'Delay before closing a gRPC upstream connection whose target left the table.',
  ),
  k('proxy', 'proxy.readtimeout', 'duration', '0s', 'Default rt (read timeout) of proxy.addr listeners.'),
  k('proxy', 'proxy.writetimeout', 'duration', '0s', 'Default wt (write timeout) of proxy.addr listeners.'),
  k('proxy', 'proxy.log.routes', 'string', '', 'Deprecated alias of log.routes.format.'),
  k(
    'proxy',
    'proxy.workers',
    'int',
    '0',
    'Number of worker processes serving the listeners (0 = one per available CPU, 1 = single process).',
    { fabioTs: true },
  ),

  // ---- registry
  k('registry', 'registry.backend', 'string', 'consul', 'Registry backend: consul, static, file or custom.'),
  k('registry', 'registry.timeout', 'duration', '10s', 'How long to retry connecting to the registry at start-up.'),
  k('registry', 'registry.retry', 'duration', '500ms', 'Retry interval while connecting to the registry at start-up.'),
  k('registry', 'registry.static.routes', 'string', '', 'Route commands of the static backend.'),
  k(
    'registry',
    'registry.static.noroutehtml',
    'string',
    '',
    'HTML body returned when no route matches (static backend).',
  ),
  k('registry', 'registry.file.path', 'string', '', 'File with route commands (file backend).'),
  k('registry', 'registry.file.noroutehtmlpath', 'string', '', 'File with the no-route HTML (file backend).'),
  k(
    'registry',
    'registry.file.watch',
    'bool',
    'false',
    'Reload registry.file.path and registry.file.noroutehtmlpath when they change (fabio reads them once).',
    { fabioTs: true },
  ),
  k(
    'registry',
    'registry.consul.addr',
    'string',
    'localhost:8500',
    'Consul agent address: host:port or an http:// or https:// URL.',
  ),
  k('registry', 'registry.consul.token', 'string', '', 'Consul ACL token.'),
  k('registry', 'registry.consul.namespace', 'string', '', 'Consul Enterprise namespace.'),
  k('registry', 'registry.consul.kvpath', 'string', '/fabio/config', 'Consul KV prefix of the manual route overrides.'),
  k(
    'registry',
    'registry.consul.noroutehtmlpath',
    'string',
    '/fabio/noroute.html',
    'Consul KV prefix of the no-route HTML.',
  ),
  k('registry', 'registry.consul.tagprefix', 'string', 'urlprefix-', 'Service tag prefix that defines routes.'),
  k(
    'registry',
    'registry.consul.service.status',
    'string',
    'passing',
    'Comma list of check statuses counted as healthy: passing, warning, critical, unknown.',
  ),
  k(
    'registry',
    'registry.consul.checksRequired',
    'string',
    'one',
    'one: one healthy check makes an instance healthy; all: every check must be healthy.',
  ),
  k('registry', 'registry.consul.serviceMonitors', 'int', '1', 'Maximum concurrent catalog reads per table rebuild.'),
  k(
    'registry',
    'registry.consul.watch',
    'string',
    'state',
    'How routes follow Consul health. state: one blocking query on /v1/health/state/any (fabio). service: one on /v1/catalog/services plus one per routed service on /v1/health/service/<name>; a change transfers only that service (large clusters), but holds one connection per routed service (raise Consul limits.http_max_conns_per_client, default 200).',
    { fabioTs: true },
  ),
  k(
    'registry',
    'registry.consul.pollinterval',
    'duration',
    '0s',
    '0 = blocking queries; > 0 = poll Consul at this interval.',
  ),
  k(
    'registry',
    'registry.consul.maxbody',
    'int',
    '134217728',
    'Largest Consul response body accepted, in bytes (default 128 MiB, ~3x the health state of a 50,000-service cluster). A larger answer is aborted and counted as an error; the last routes stay.',
    { fabioTs: true },
  ),
  k('registry', 'registry.consul.requireConsistent', 'bool', 'true', 'Add ?consistent to Consul reads.'),
  k(
    'registry',
    'registry.consul.allowStale',
    'bool',
    'false',
    'Add ?stale to Consul reads (excludes requireConsistent).',
  ),
  k('registry', 'registry.consul.tls.keyfile', 'string', '', 'Client key for https Consul.'),
  k('registry', 'registry.consul.tls.certfile', 'string', '', 'Client certificate for https Consul.'),
  k('registry', 'registry.consul.tls.cafile', 'string', '', 'CA file for https Consul.'),
  k('registry', 'registry.consul.tls.capath', 'string', '', 'CA directory for https Consul.'),
  k(
    'registry',
    'registry.consul.tls.insecureskipverify',
    'bool',
    'false',
    'Skip verification of the Consul server certificate.',
  ),
  k('registry', 'registry.consul.register.enabled', 'bool', 'true', 'Register fabio-ts itself as a Consul service.'),
  k(
    'registry',
    'registry.consul.register.addr',
    'string',
    ':9998',
    'host:port registered in Consul (default: the ui.addr port and the local IP).',
  ),
  k('registry', 'registry.consul.register.name', 'string', 'fabio', 'Service name of the self-registration.'),
  k('registry', 'registry.consul.register.tags', 'string', '', 'Comma list of tags of the self-registration.'),
  k(
    'registry',
    'registry.consul.register.checkInterval',
    'duration',
    '1s',
    'Interval of the HTTP health check of the self-registration.',
  ),
  k(
    'registry',
    'registry.consul.register.checkTimeout',
    'duration',
    '3s',
    'Timeout of the HTTP health check of the self-registration.',
  ),
  k(
    'registry',
    'registry.consul.register.checkTLSSkipVerify',
    'bool',
    'false',
    'TLSSkipVerify of the HTTP health check.',
  ),
  k(
    'registry',
    'registry.consul.register.checkDeregisterCriticalServiceAfter',
    'string',
    '',
    'Deprecated; accepted and ignored.',
    { ignored: true },
  ),
  k('registry', 'registry.custom.host', 'string', '', 'host:port of the custom route API.'),
  k('registry', 'registry.custom.scheme', 'string', 'https', 'Scheme of the custom route API: http or https.'),
  k('registry', 'registry.custom.path', 'string', '', 'Path of the custom route API (without leading /).'),
  k('registry', 'registry.custom.queryparams', 'string', '', 'Raw query string of the custom route API.'),
  k('registry', 'registry.custom.timeout', 'duration', '5s', 'HTTP timeout of the custom route API.'),
  k('registry', 'registry.custom.pollinterval', 'duration', '10s', 'Poll interval of the custom route API.'),
  k(
    'registry',
    'registry.custom.checkTLSSkipVerify',
    'bool',
    'false',
    'Skip TLS verification of the custom route API.',
  ),
  k('registry', 'registry.custom.noroutehtml', 'string', '', 'No-route HTML of the custom backend.'),

  // ---- ui
  k('ui', 'ui.addr', 'string', ':9998', 'Admin UI/API listener (one entry of the proxy.addr syntax).'),
  k('ui', 'ui.access', 'string', 'rw', 'rw or ro (ro refuses every write path).'),
  k(
    'ui',
    'ui.allowedhosts',
    'string',
    '',
    'Comma list of extra host names (the Host header, port ignored) that may write to the admin API, besides localhost, 127.0.0.1, [::1], the ui.addr host, the registry.consul.register.addr host and the address a request arrived on; * accepts any Host (turns the DNS-rebinding protection off).',
    { fabioTs: true },
  ),
  k('ui', 'ui.color', 'string', 'light-green', 'Colour of the navigation bar.'),
  k('ui', 'ui.title', 'string', '', 'Title shown in the navigation bar.'),
  k('ui', 'ui.path', 'string', '', 'Base path of the UI and API (for example /fabio); /health stays at the root.'),
  k('ui', 'ui.routingtable.source.linkenabled', 'bool', 'false', 'Render the Source column as a link.'),
  k('ui', 'ui.routingtable.source.newtab', 'bool', 'true', 'Source links open in a new tab.'),
  k('ui', 'ui.routingtable.source.scheme', 'string', 'http', 'Scheme of source links.'),
  k('ui', 'ui.routingtable.source.host', 'string', '', 'Host of source links for path-only sources.'),
  k('ui', 'ui.routingtable.source.port', 'string', '', 'Port of source links.'),

  // ---- log
  k(
    'log',
    'log.level',
    'string',
    'INFO',
    'Application log level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL (written to stderr).',
  ),
  k('log', 'log.access.target', 'string', '', 'Access log target: empty (off) or stdout.'),
  k('log', 'log.access.format', 'string', 'common', 'Access log format: common, combined or a $field template.'),
  k('log', 'log.routes.format', 'string', 'delta', 'How route table changes are logged: delta, all or detail.'),

  // ---- metrics
  k(
    'metrics',
    'metrics.target',
    'string',
    '',
    'Comma list of metrics backends: prometheus, stdout/flat, label, graphite, statsd_raw, dogstatsd (circonus is not supported).',
  ),
  k(
    'metrics',
    'metrics.prefix',
    'string',
    '{{clean .Hostname}}.{{clean .Exec}}',
    'Metric name prefix template (.Hostname, .Exec, clean); "default" means this template.',
  ),
  k(
    'metrics',
    'metrics.names',
    'string',
    '{{clean .Service}}.{{clean .Host}}.{{clean .Path}}.{{clean .TargetURL.Host}}',
    'Route metric name template for backends without labels (graphite, statsd_raw, flat): .Service, .Host, .Path, .TargetURL.Host, clean.',
  ),
  k('metrics', 'metrics.interval', 'duration', '30s', 'Push interval of the push backends (all but prometheus).'),
  k('metrics', 'metrics.timeout', 'duration', '10s', 'Unused in fabio; accepted.', { ignored: true }),
  k('metrics', 'metrics.retry', 'duration', '500ms', 'Unused in fabio; accepted.', { ignored: true }),
  k('metrics', 'metrics.graphite.addr', 'string', '', 'Graphite host:port (TCP, plaintext protocol).'),
  k('metrics', 'metrics.statsd.addr', 'string', '', 'StatsD host:port (UDP) for statsd_raw.'),
  k('metrics', 'metrics.dogstatsd.addr', 'string', '', 'DogStatsD host:port (UDP).'),
  k('metrics', 'metrics.circonus.apikey', 'string', '', 'Circonus API key.', { implemented: false }),
  k('metrics', 'metrics.circonus.apiapp', 'string', 'fabio', 'Circonus API app.', { implemented: false }),
  k('metrics', 'metrics.circonus.apiurl', 'string', '', 'Circonus API URL.', { implemented: false }),
  k('metrics', 'metrics.circonus.brokerid', 'string', '', 'Circonus broker id.', { implemented: false }),
  k('metrics', 'metrics.circonus.checkid', 'string', '', 'Circonus check id.', { implemented: false }),
  k('metrics', 'metrics.circonus.submissionurl', 'string', '', 'Circonus submission URL.', { implemented: false }),
  k('metrics', 'metrics.prometheus.subsystem', 'string', '', 'Prometheus subsystem.'),
  k('metrics', 'metrics.prometheus.path', 'string', '/metrics', 'Path served by proto=prometheus listeners.'),
  k(
    'metrics',
    'metrics.prometheus.buckets',
    'string',
    '.005,.01,.025,.05,.1,.25,.5,1,2.5,5,10',
    'Histogram buckets in seconds.',
  ),

  // ---- runtime, glob, misc
  k('runtime', 'runtime.gogc', 'int', '100', 'Go GC target; no meaning in Node, accepted and ignored.', {
    ignored: true,
  }),
  k('runtime', 'runtime.gomaxprocs', 'int', '-1', 'Go GOMAXPROCS; use proxy.workers instead. Accepted and ignored.', {
    ignored: true,
  }),
  k('glob', 'glob.matching.disabled', 'bool', 'false', 'Match hosts by exact string instead of glob.'),
  k('glob', 'glob.cache.size', 'int', '1000', 'Size of the compiled host-glob cache.'),
  k('misc', 'insecure', 'bool', 'false', 'Allow running as root without the hourly reminder.'),
  k('misc', 'profile.mode', 'string', '', 'Go pprof profile mode; use node --cpu-prof instead.', {
    implemented: false,
  }),
  k('misc', 'profile.path', 'string', '', 'Go pprof output directory.', { implemented: false }),
  k('misc', 'aws.apigw.cert.cn', 'string', '', 'Deprecated; use caupgcn= in proxy.cs.', { ignored: true }),

  // ---- bgp (not supported)
  k('bgp', 'bgp.enabled', 'bool', 'false', 'Embedded BGP speaker (not supported by fabio-ts).', { implemented: false }),
  k('bgp', 'bgp.asn', 'int', '65000', 'Local ASN.', { implemented: false }),
  k('bgp', 'bgp.anycastaddresses', 'string', '', 'CIDRs to announce.', { implemented: false }),
  k('bgp', 'bgp.routerid', 'string', '', 'Router id.', { implemented: false }),
  k('bgp', 'bgp.listenport', 'int', '179', 'BGP listen port.', { implemented: false }),
  k('bgp', 'bgp.listenaddresses', 'string', '0.0.0.0', 'BGP listen addresses.', { implemented: false }),
  k('bgp', 'bgp.peers', 'string', '', 'BGP peers.', { implemented: false }),
  k('bgp', 'bgp.enablegrpc', 'bool', 'false', 'gobgp gRPC API.', { implemented: false }),
  k('bgp', 'bgp.grpclistenaddress', 'string', '127.0.0.1:50051', 'gobgp gRPC API address.', { implemented: false }),
  k('bgp', 'bgp.nexthop', 'string', '', 'Next hop.', { implemented: false }),
  k('bgp', 'bgp.gobgpdcfgfile', 'string', '', 'External gobgpd configuration.', { implemented: false }),

  // ---- dev (fabio-ts only)
  k(
    'dev',
    'dev',
    'bool',
    'false',
    'Development mode: start the embedded Consul-compatible catalog and a demo service (in memory only; not for production).',
    { fabioTs: true },
  ),
  k('dev', 'dev.addr', 'string', '127.0.0.1:8500', 'Listen address of the embedded catalog in -dev mode.', {
    fabioTs: true,
  }),
];

/** Lookup by exact name. */
export const KEY_BY_NAME: ReadonlyMap<string, KeyDef> = new Map(KEYS.map((d) => [d.name, d]));
