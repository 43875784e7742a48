/**
 * The route-command help text, shown by the CLI route tools and the UI's manual-override page.
 * One place, so the three never drift.
 */
export const ROUTE_HELP = `Route commands (one per line; blank lines and lines starting with # or // are ignored):

  route add <svc> <src> <dst>[ weight <w>][ tags "<t1>,<t2>,..."][ opts "k1=v1 k2=v2 ..."]
      Add a route from <src> to the target <dst> for service <svc>.
      <src>  host/path, /path (any host), host (path /), :port (TCP); host may be a glob (*.example.com)
      <dst>  target URL: http://, https://, tcp://, grpc://, grpcs:// or a redirect URL
      weight fixed share of traffic, 0..1 (0.05 = 5%); without it targets share the rest evenly
      clauses must appear in this order: weight, tags, opts

  route del <svc>                          remove every route of service <svc>
  route del <svc> <src>                    remove the targets of <svc> on <src>
  route del <svc> <src> <dst>              remove one target
  route del <svc> tags "<t1>,<t2>,..."     remove the targets of <svc> that have all these tags
  route del tags "<t1>,<t2>,..."           remove the targets of any service with all these tags

  route weight <svc> <src> weight <w>[ tags "<t1>,<t2>,..."]
  route weight <src> weight <w> tags "<t1>,<t2>,..."
      Give the matching targets of <src> together the share <w> (each of n gets <w>/n).

Options (opts "..."):
  strip=/prefix          remove /prefix from the upstream request path
  prepend=/prefix        add /prefix in front of the upstream request path (after strip)
  host=dst|<name>        Host header for the upstream: the target's host:port, or <name>
  proto=tcp|https|grpc|grpcs   protocol of the target (in tags; in commands use the dst scheme)
  tlsskipverify=true     do not verify the upstream TLS certificate
  redirect=<code>        answer with a <code> (3xx) redirect to <dst>; $host and $path are replaced
  auth=<scheme>          require the proxy.auth scheme <scheme>
  allow=ip:<cidr>,...    only these client addresses (ip:10.0.0.0/8,ip:::1)
  deny=ip:<cidr>,...     not these client addresses (allow and deny exclude each other)
  register=<name>        also register fabio in Consul under <name>
  pxyproto=true          send a PROXY protocol v1 header to TCP targets
  grpcservername=<name>  TLS server name for grpcs targets

Examples:
  route add web example.com/ http://10.0.0.1:8080/ tags "green"
  route add api /api http://10.0.0.2:9000/ opts "strip=/api"
  route add db :3306 tcp://10.0.0.3:3306
  route add old /old https://example.com/$path opts "redirect=301"
  route weight web example.com/ weight 0.1 tags "canary"
  route del web example.com/ http://10.0.0.1:8080/
`;
