import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../../src/log/logger.ts';
import { installLifecycle, type StopMode } from '../../src/runtime/signals.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Installs a lifecycle whose exit is recorded; removes its signal handlers after the test. */
function setup(t: { after(fn: () => void): void }, shutdown: (mode: StopMode) => Promise<void>) {
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  t.after(() => {
    for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)?.includes(l)) process.off(s, l);
  });
  const log = memoryLogger('INFO');
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => {
    resolveExit = r;
  });
  const life = installLifecycle(log, { shutdown, exit: (code) => resolveExit(code), fatalDeadlineMs: 60_000 });
  return { log, life, exited };
}

test('SIGTERM: fabio lines around one graceful shutdown, exit 0; SIGHUP only logs', async (t) => {
  const modes: StopMode[] = [];
  const { log, life, exited } = setup(t, async (m) => {
    modes.push(m);
  });
  process.emit('SIGHUP');
  assert.equal(life.stopping, false);
  process.emit('SIGTERM');
  assert.equal(life.stopping, true);
  assert.equal(await exited, 0);
  assert.deepEqual(modes, ['signal']);
  assert.deepEqual(log.lines, ['[INFO] Caught SIGHUP. Ignoring', '[INFO] Caught SIGTERM. Exiting', '[INFO] Down']);
});

test('a second SIGINT during the drain exits at once with 1', async (t) => {
  const { log, exited } = setup(t, () => new Promise<void>(() => {})); // a drain that never ends
  process.emit('SIGINT');
  process.emit('SIGINT');
  assert.equal(await exited, 1);
  assert.deepEqual(log.lines, ['[INFO] Caught SIGINT. Exiting', '[WARN] Caught SIGINT again. Exiting now']);
});

test('fatal: [FATAL] line, shutdown without drain, exit 1; a shutdown that fails still exits', async (t) => {
  const modes: StopMode[] = [];
  const { log, life, exited } = setup(t, async (m) => {
    modes.push(m);
    throw new Error('close failed');
  });
  life.fatal('HTTP proxy cannot listen on :9999: address already in use');
  assert.equal(await exited, 1);
  assert.deepEqual(modes, ['fatal']);
  assert.deepEqual(log.lines, [
    '[FATAL] HTTP proxy cannot listen on :9999: address already in use',
    '[ERROR] shutdown: Error: close failed',
  ]);
});

test('a fatal shutdown that hangs is cut off', async (t) => {
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  t.after(() => {
    for (const s of SIGNALS) for (const l of process.listeners(s)) if (!before.get(s)?.includes(l)) process.off(s, l);
  });
  const code = await new Promise<number>((resolve) => {
    const life = installLifecycle(memoryLogger(), {
      shutdown: () => new Promise<void>(() => {}),
      exit: resolve,
      fatalDeadlineMs: 10,
    });
    life.fatal('x');
  });
  assert.equal(code, 1);
});
