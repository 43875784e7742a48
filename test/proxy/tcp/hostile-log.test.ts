import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { CLIP_MAX } from '../../../src/log/clip.ts';
import { startSniListener } from '../../../src/proxy/tcp/index.ts';
import { rawSwitch, rawTcp } from '../../../src/proxy/tcp/raw-handle.ts';
import { reframe } from './hello-capture.ts';
import { fakeTable, makeDeps, spec, until } from './helpers.ts';

/** A minimal TLS 1.3-style ClientHello carrying `name` as its server_name (one record, re-framed by the caller). */
function helloWithSni(name: string): Buffer {
  const host = Buffer.from(name, 'latin1');
  const sniList = Buffer.concat([Buffer.from([0]), u16(host.length), host]);
  const ext = Buffer.concat([u16(0), u16(sniList.length + 2), u16(sniList.length), sniList]);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 1), // random
    Buffer.from([0]), // session id
    u16(2),
    Buffer.from([0x13, 0x01]), // TLS_AES_128_GCM_SHA256
    Buffer.from([1, 0]), // compression: null
    u16(ext.length),
    ext,
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 3, 1]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  return Buffer.from([n >> 8, n & 0xff]);
}

const modes = rawTcp !== undefined ? (['raw', 'net'] as const) : (['net'] as const);

for (const mode of modes)
  test(`tcp+sni (${mode}): a 65,000-byte server name gives a bounded log line, not a 65 KB one`, async (t) => {
    const env = makeDeps(fakeTable({ 'known.test': [{ url: 'tcp://127.0.0.1:1' }] }));
    rawSwitch.on = mode === 'raw';
    const l = await startSniListener(spec({ proto: 'tcp+sni' }), env.deps).finally(() => {
      rawSwitch.on = true;
    });
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
