/**
 * The embedded Consul-compatible catalog (`fabio-ts -dev`) and its demo backend. In memory only;
 * a development and test tool. See docs/dev-catalog.md.
 */
export { startDevCatalog, DEV_CATALOG_CONSUL_VERSION } from './server.ts';
export type { DevCatalog, DevCatalogOptions } from './server.ts';
export { startDemoService } from './demo-service.ts';
export type { DemoService, DemoServiceOptions } from './demo-service.ts';
export { parseDuration, formatDuration } from './durations.ts';
