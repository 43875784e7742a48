import { type FSWatcher, readFileSync, unwatchFile, watch, watchFile } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { RegistryBackend, RegistrySink } from './types.ts';

/**
 * registry.backend=file: route commands from registry.file.path and the no-route HTML from
 * registry.file.noroutehtmlpath. fabio reads both once; with registry.file.watch=true (ours) a
 * change of either file re-emits. fs.watch on the directory (editors replace files by rename, which
 * a watch on the file itself misses) plus an fs.watchFile poll as the fallback for file systems
 * without change events (NFS, some containers).
 */

export interface FileBackendOptions {
  readonly path: string;
  readonly htmlPath: string;
  readonly watch: boolean;
  /** Poll interval of the fallback (ms). */
  readonly pollMs?: number;
}

export class FileBackend implements RegistryBackend {
  readonly manual = undefined;
  readonly #o: FileBackendOptions;
  readonly #log: Logger;
  #routes = '';
  #html = '';
  readonly #watchers: FSWatcher[] = [];
  #polled: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: FileBackendOptions, log: Logger) {
    this.#o = o;
    this.#log = log;
  }

  /** Reads both files; a missing route file fails start-up as in fabio. */
  async connect(): Promise<void> {
    this.#routes = readFileSync(this.#o.path, 'utf8');
    this.#html = this.#o.htmlPath ? readFileSync(this.#o.htmlPath, 'utf8') : '';
  }

  watch(sink: RegistrySink): void {
    if (this.#html !== '') sink.noRouteHtml(this.#html);
    sink.routes({ text: this.#routes, cause: 'file', index: 0 });
    if (!this.#o.watch) return;
    const reload = () => {
      // Coalesce the burst of events one save produces.
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#reload(sink), 20);
    };
    for (const p of [this.#o.path, this.#o.htmlPath]) {
      if (!p) continue;
      try {
        const w = watch(dirname(p), { persistent: false }, (_ev, name) => {
          if (name === null || name === basename(p)) reload();
        });
        w.on('error', () => {});
        this.#watchers.push(w);
      } catch (err) {
        this.#log.warn(`file: Cannot watch ${p}; polling. ${(err as Error).message}`);
      }
      watchFile(p, { persistent: false, interval: this.#o.pollMs ?? 2000 }, reload);
      this.#polled.push(p);
    }
  }

  #reload(sink: RegistrySink): void {
    if (this.#stopped) return;
    let routes: string;
    let html: string;
    try {
      routes = readFileSync(this.#o.path, 'utf8');
      html = this.#o.htmlPath ? readFileSync(this.#o.htmlPath, 'utf8') : '';
    } catch (err) {
      // A file replaced by rename is briefly missing; keep the last text.
      this.#log.warn(`file: Cannot read ${this.#o.path}. ${(err as Error).message}`);
      return;
    }
    if (html !== this.#html) {
      this.#html = html;
      sink.noRouteHtml(html);
    }
    if (routes !== this.#routes) {
      this.#routes = routes;
      this.#log.info(`file: Reloaded ${this.#o.path}`);
      sink.routes({ text: routes, cause: 'file', index: 0 });
    }
  }

  async register(): Promise<void> {}
  async deregister(): Promise<void> {}

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
    for (const p of this.#polled) unwatchFile(p);
  }
}
