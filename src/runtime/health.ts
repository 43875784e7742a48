/**
 * What /health answers (fabio always answers `OK`): healthy only while the process has a routing
 * table and every configured listener is accepting in at least one process (the primary, or a
 * worker that reported it listens). The primary owns this; workers report over IPC
 * (src/runtime/cluster.ts). A reason is one line, e.g. `no routing table yet`.
 */
export class Health {
  readonly #expected: readonly string[];
  #table = false;
  /** Per serving process (pid, or 0 for the primary): the listener addresses it accepts on. */
  readonly #serving = new Map<number, ReadonlySet<string>>();

  /** @param listeners the addresses of the configured listeners, as written (`:9999`). */
  constructor(listeners: readonly string[]) {
    this.#expected = listeners;
  }

  tableReady(): void {
    this.#table = true;
  }

  /** Process `id` accepts on `addrs` (replaces what it reported before). */
  serving(id: number, addrs: readonly string[]): void {
    this.#serving.set(id, new Set(addrs));
  }

  /** Process `id` stopped accepting (closing, or gone). */
  stopped(id: number): void {
    this.#serving.delete(id);
  }

  /** Nothing accepts any more (shutdown closes the listeners). */
  stoppedAll(): void {
    this.#serving.clear();
  }

  /** undefined when healthy, else a one-line reason. */
  reason(): string | undefined {
    if (!this.#table) return 'no routing table yet';
    const down = this.#expected.filter((a) => ![...this.#serving.values()].some((s) => s.has(a)));
    if (down.length === 1) return `listener ${down[0]} not accepting`;
    if (down.length > 1) return `listeners ${down.join(', ')} not accepting`;
    return undefined;
  }
}
