import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { BULK_BYTES, relayStats } from '../../../src/proxy/tcp/relay.ts';
import { rawTcpSkip, tcpModes } from '../../helpers/support.ts';
import { fakeTable, inMode, makeDeps, spec, until } from './helpers.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Upstream for bulk tests: a slow reader (pauses every 256 KiB, so the proxy's writes back up and
 * the reusable bulk buffer must wait for them), and after the client's FIN it answers with the
 * hash of what it got followed by `reply`.
 */
async function slowSink(reply: Buffer) {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const h = createHash('sha256');
    let since = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      since += c.length;
      if (since >= 256 * 1024) {
        since = 0;
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.on('end', () => {
      s.write(`${h.digest('hex')}\n`);
      s.end(reply);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

const cases = [
  { name: 'bulk upload, small reply', up: 6 * 1024 * 1024, down: 10 },
  { name: 'small request, bulk download', up: 100, down: 6 * 1024 * 1024 },
  { name: 'bulk both ways', up: 3 * 1024 * 1024, down: 3 * 1024 * 1024 },
  { name: 'just below the bulk switch', up: BULK_BYTES - 1, down: BULK_BYTES - 100 },
];

// Both splices: bare libuv handles (raw-splice.ts, the default where Node offers them) and net.Socket.
// On a supported Node the raw cases always run and fail when the handles are missing (support.ts).
for (const mode of tcpModes())
  for (const c of cases) {
    test(`tcp relay (${mode}): ${c.name}: every byte in order, half-close, exact rx/tx`, async (t) => {
      if (mode === 'raw') {
        const skip = rawTcpSkip();
        if (skip !== undefined) return t.skip(skip);
      }
      const reply = randomBytes(c.down);
      const sink = await slowSink(reply);
      t.after(() => sink.server.close());
      const env = makeDeps(undefined);
      const l = await startTcpListener(spec(), inMode(env.deps, mode));
      t.after(() => l.close(0));
      const raw0 = relayStats.raw;
      env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${sink.port}` }] }));
      const payload = randomBytes(c.up);
      const bulk0 = relayStats.bulk;
      // a slow client reader too, so the upstream→client direction backs up as well
      const got = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(payload));
        s.setTimeout(20_000, () => s.destroy(new Error('test timeout')));
        let n = 0;
        s.on('data', (d: Buffer) => {
          chunks.push(d);
          if (++n % 16 === 0) {
            s.pause();
            setTimeout(() => s.resume(), 1);
          }
        });
        s.on('error', reject);
        s.on('close', () => resolve(Buffer.concat(chunks)));
      });
      const nl = got.indexOf(0x0a);
      assert.equal(got.subarray(0, nl).toString(), sha(payload), 'upstream received exactly the client bytes');
      assert.equal(got.length - nl - 1, reply.length);
      assert.ok(got.subarray(nl + 1).equals(reply), 'client received exactly the upstream bytes');
      await until(() => env.metrics.bytes.length === 1);
      assert.equal(env.metrics.bytes[0]!.tx, payload.length);
      assert.equal(env.metrics.bytes[0]!.rx, got.length);
      const expected = (c.up >= 2 * BULK_BYTES ? 1 : 0) + (c.down >= 2 * BULK_BYTES ? 1 : 0);
      assert.equal(relayStats.raw - raw0, mode === 'raw' ? 1 : 0, 'the splice under test handled the connection');
      if (expected === 0) assert.equal(relayStats.bulk - bulk0, 0, 'small transfers stay in stream mode');
      else assert.ok(relayStats.bulk - bulk0 >= expected, `bulk mode used: ${relayStats.bulk - bulk0} < ${expected}`);
    });
  }
