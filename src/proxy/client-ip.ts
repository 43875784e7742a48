/**
 * Client addresses in Go's form for the HTTP handler and the PROXY protocol reader. The one copy
 * lives in src/go/ip.ts (issue #16); this module only forwards to it until src/proxy/http imports
 * it directly.
 */
export { goAddr, goIp } from '../go/ip.ts';
