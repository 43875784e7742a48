import type { RegistryBackend, RegistrySink } from './types.ts';

/**
 * registry.backend=static: the route text of registry.static.routes and the no-route HTML of
 * registry.static.noroutehtml, emitted once (fabio section (m)). No manual overrides, no
 * registration.
 */
export class StaticBackend implements RegistryBackend {
  readonly manual = undefined;
  readonly #routes: string;
  readonly #html: string;

  constructor(routes: string, html: string) {
    this.#routes = routes;
    this.#html = html;
  }

  async connect(): Promise<void> {}

  watch(sink: RegistrySink): void {
    if (this.#html !== '') sink.noRouteHtml(this.#html);
    sink.routes({ text: this.#routes, cause: 'static', index: 0 });
  }

  async register(): Promise<void> {}
  async deregister(): Promise<void> {}
  async stop(): Promise<void> {}
}
