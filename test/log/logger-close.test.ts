import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, fdSink } from '../../src/log/logger.ts';

test('close() writes every line in order, even with an asynchronous write in flight; later lines are dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fabio-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log');
  const log = createLogger('INFO', fdSink(openSync(file, 'w')));
  // enough output that the asynchronous writer is busy when the last line is logged
  for (let i = 0; i < 2000; i++) log.info(`line ${i} ${'x'.repeat(200)}`);
  log.info('Down');
  await log.close?.();
  log.info('after close');
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 2001);
  lines.slice(0, -1).forEach((l, i) => assert.match(l, new RegExp(`\\[INFO\\] line ${i} x`)));
  assert.match(lines.at(-1) as string, /\[INFO\] Down$/);
});
