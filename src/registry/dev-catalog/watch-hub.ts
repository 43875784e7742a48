/**
 * Wakes blocked queries. A blocked request waits on one topic ('checks', 'services',
 * 'svc:<name>', 'node') or on a KV key/prefix; a write notifies exactly the topics it touched,
 * so a KV write never wakes health watchers and a flap of one service never wakes watchers of
 * another service's health/service endpoint.
 */

interface Waiter {
  readonly wake: () => void;
}

interface KvWaiter extends Waiter {
  readonly key: string;
  readonly prefix: boolean;
}

export class WatchHub {
  readonly #topics = new Map<string, Set<Waiter>>();
  readonly #kv = new Set<KvWaiter>();
  #count = 0;
  /** Incremented by wakeAll(): blocked queries return even if their index did not move. */
  epoch = 0;

  /** Number of requests currently blocked (test hook: wait for a watcher to be parked). */
  get waiting(): number {
    return this.#count;
  }

  /** Resolves on the first notification of `topic`, after `ms`, or when `signal` aborts. */
  wait(topic: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.#park(ms, signal, (w) => {
      let set = this.#topics.get(topic);
      if (!set) {
        set = new Set();
        this.#topics.set(topic, set);
      }
      set.add(w);
      return () => {
        set.delete(w);
        if (set.size === 0 && this.#topics.get(topic) === set) this.#topics.delete(topic);
      };
    });
  }

  /** Waits for a write to `key` (prefix=false) or to any key below `key` (prefix=true). */
  waitKv(key: string, prefix: boolean, ms: number, signal?: AbortSignal): Promise<void> {
    return this.#park(ms, signal, (w) => {
      const kw: KvWaiter = { wake: w.wake, key, prefix };
      this.#kv.add(kw);
      return () => this.#kv.delete(kw);
    });
  }

  notify(topics: Iterable<string>): void {
    for (const t of topics) {
      const set = this.#topics.get(t);
      if (!set) continue;
      this.#topics.delete(t);
      for (const w of set) w.wake();
    }
  }

  notifyKv(key: string): void {
    for (const w of this.#kv) {
      if (w.prefix ? key.startsWith(w.key) : key === w.key) w.wake();
    }
  }

  /** Wakes every blocked request (index reset, shutdown). */
  wakeAll(): void {
    this.epoch++;
    const all: Waiter[] = [...this.#kv];
    for (const set of this.#topics.values()) all.push(...set);
    this.#topics.clear();
    this.#kv.clear();
    for (const w of all) w.wake();
  }

  #park(ms: number, signal: AbortSignal | undefined, add: (w: Waiter) => () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      let done = false;
      let remove: () => void = () => {};
      const finish = () => {
        if (done) return;
        done = true;
        this.#count--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        remove();
        resolve();
      };
      this.#count++;
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
      remove = add({ wake: finish });
    });
  }
}
