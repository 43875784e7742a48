/**
 * The embedded Consul-compatible catalog (`fabio-ts -dev`) and its demo backend. In memory only;
 * a development and test tool. See docs/dev-catalog.md.
 */

export type { DemoService, DemoServiceOptions } from './demo-service.ts';
export { startDemoService } from './demo-service.ts';
export { formatDuration, parseDuration } from './durations.ts';
export type { DevCatalog, DevCatalogOptions } from './server.ts';
export { DEV_CATALOG_CONSUL_VERSION, startDevCatalog } from './server.ts';
