import type { TestContext } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import type { HistoryEntry, ManualStore } from '../../src/registry/types.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import type { BuildOptions, Table } from '../../src/routes/types.ts';
import { type AdminDeps, startAdmin, type UpdaterView, type UpdaterWarning } from '../../src/ui/index.ts';
import { fakeConfig } from './fake-config.ts';

export { fakeConfig };

/** Test helpers for the admin server: fakes for updater and KV, an admin server on port 0. */

export const BUILD: BuildOptions = {
  matcher: 'prefix',
  strategy: 'rnd',
  globDisabled: false,
  globCacheSize: 1000,
  random: () => 0,
};

/** buildTable from the route engine. */
export async function makeTable(text: string, opts: Partial<BuildOptions> = {}): Promise<Table> {
  const mod = (await import(new URL('../../src/routes/index.ts', import.meta.url).href)) as {
    buildTable(text: string, o: BuildOptions): Table;
  };
  return mod.buildTable(text, { ...BUILD, ...opts });
}

export function fakeUpdater(): UpdaterView & { hist: HistoryEntry[]; warns: UpdaterWarning[]; emit(): void } {
  const fns = new Set<() => void>();
  return {
    hist: [],
    warns: [],
    history() {
      return this.hist;
    },
    warnings() {
      return this.warns;
    },
    onChange(fn) {
      fns.add(fn);
      return () => fns.delete(fn);
    },
    emit() {
      for (const f of fns) f();
    },
  };
}

/** An in-memory KV with Consul's CAS semantics (version = modify index as a string). */
export function fakeManual(
  initial: Record<string, string> = { '': '' },
): ManualStore & { data: Map<string, { value: string; index: number }>; fail: boolean } {
  let index = 10;
  const data = new Map(Object.entries(initial).map(([k, v]) => [k, { value: v, index: ++index }]));
  return {
    data,
    fail: false,
    async paths() {
      return [...data.keys()].sort();
    },
    async get(sub) {
      if (this.fail) throw new Error('consul unavailable');
      const e = data.get(sub);
      return e ? { value: e.value, version: String(e.index) } : { value: '', version: '0' };
    },
    async put(sub, value, version) {
      if (this.fail) throw new Error('consul unavailable');
      const e = data.get(sub);
      const cur = e ? String(e.index) : '0';
      if (version !== cur) return false;
      data.set(sub, { value, index: ++index });
      return true;
    },
  };
}

export interface TestAdmin {
  url: string;
  base: string;
  port: number;
  store: TableStore;
  updater: ReturnType<typeof fakeUpdater>;
  manual: ReturnType<typeof fakeManual> | undefined;
  log: ReturnType<typeof memoryLogger>;
  deps: AdminDeps;
}

export async function startTestAdmin(
  t: TestContext,
  opts: {
    cfg?: Record<string, string | boolean | number>;
    table?: Table;
    manual?: boolean;
    extra?: Partial<AdminDeps>;
  } = {},
): Promise<TestAdmin> {
  const cfg = fakeConfig(opts.cfg);
  const store = new TableStore();
  if (opts.table) store.swap(opts.table);
  const updater = fakeUpdater();
  const manual = opts.manual === false ? undefined : fakeManual();
  const log = memoryLogger('INFO');
  const deps: AdminDeps = { cfg, store, log, version: '0.1.0-test', updater, manual, ...opts.extra };
  const admin = await startAdmin(deps);
  t.after(() => admin.close(0));
  const url = `http://127.0.0.1:${admin.port}`;
  return {
    url,
    base: url + cfg.str('ui.path').replace(/\/$/, ''),
    port: admin.port,
    store,
    updater,
    manual,
    log,
    deps,
  };
}
