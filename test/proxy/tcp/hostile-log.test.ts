import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { CLIP_MAX } from '../../../src/log/clip.ts';
import { startSniListener } from '../../../src/proxy/tcp/index.ts';
import { rawTcpFromEnv } from '../../../src/proxy/tcp/raw-handle.ts';
import { helloWithSni, reframe } from './hello-capture.ts';
import { fakeTable, inMode, makeDeps, spec, until } from './helpers.ts';

const modes = rawTcpFromEnv(process.env) !== undefined ? (['raw', 'net'] as const) : (['net'] as const);

for (const mode of modes)
  test(`tcp+sni (${mode}): a 65,000-byte server name gives a bounded log line, not a 65 KB one`, async (t) => {
    const env = makeDeps(fakeTable({ 'known.test': [{ url: 'tcp://127.0.0.1:1' }] }));
    const l = await startSniListener(spec({ proto: 'tcp+sni' }), inMode(env.deps, mode));
    t.after(() => l.close(0));
    const name = `${'a'.repeat(64_990)}.evil.test`;
    const wire = reframe(helloWithSni(name), [16_000, 16_000, 16_000, 16_000]);
    await new Promise<void>((resolve) => {
      const s = net.connect({ port: l.port, host: '127.0.0.1' }, () => s.write(wire));
      s.on('error', () => {});
      s.resume();
      s.on('close', () => resolve());
    });
    await until(() => env.metrics.counts['tcp_sni.noroute'] === 1);
    const line = env.log.lines.find((x) => x.includes('no route for'));
    assert.ok(line !== undefined, env.log.lines.join('\n'));
    assert.ok(line.startsWith(`[WARN] tcp+sni: no route for ${'a'.repeat(CLIP_MAX)}...`), line.slice(0, 400));
    assert.ok(line.length < CLIP_MAX + 100, `log line of ${line.length} bytes`);
    for (const x of env.log.lines) assert.ok(x.length < 1000, `log line of ${x.length} bytes`);
  });
