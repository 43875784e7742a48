/** Usage texts of the route tools (printed on a usage error, exit code 2, or with -h). */
export const TABLE_USAGE = 'usage: fabio-ts route table [FILE|-] [--dump]';
export const EXPLAIN_USAGE =
  'usage: fabio-ts route explain [--routes FILE|-] [--matcher prefix|glob|iprefix] [--strategy rnd|rr] [--glob-disabled] [--header "Name: value"]... [--ejected URL]... [--repeat N] [--why] [--json] URL';
export const TAGS_USAGE =
  'usage: fabio-ts route tags --service NAME --addr ADDR --port PORT [--tagprefix P] [--dc DC] TAG...';

export const ROUTE_USAGE = `usage: fabio-ts route <tool> [arguments]

tools:
  table    print the routing table built from route commands (FILE or - for stdin)
  explain  show which target a request URL is routed to, and why
  tags     print the route commands a Consul service instance with these tags produces

  ${TABLE_USAGE}
  ${EXPLAIN_USAGE}
  ${TAGS_USAGE}

Exit codes: 0 ok, 1 invalid input (route text, tags), 2 usage error.
`;
