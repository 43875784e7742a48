/**
 * Waiting in tests that run node:test's mock timers (`t.mock.timers.enable`): a poll built on
 * setTimeout would never wake while setTimeout is mocked, so this one yields with setImmediate.
 * Its deadline is real time (performance.now is not mocked); it bounds a failure, it is not the
 * thing under test.
 */
export async function turns(fn: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
