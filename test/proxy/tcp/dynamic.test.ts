import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { dynamicKeys, parseListenKey, startTcpDynamic } from '../../../src/proxy/tcp/index.ts';
import { relayStats } from '../../../src/proxy/tcp/relay.ts';
import { freePort } from '../../helpers/proc.ts';
import { rawTcpSkip } from '../../helpers/support.ts';
import { echoServer, fakeTable, makeDeps, roundTrip, spec, until } from './helpers.ts';

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });

test('tcp-dynamic: listen keys from the table', () => {
  const t = fakeTable({
    ':1000': [{ url: 'tcp://127.0.0.1:1' }],
    '127.0.0.1:1001': [{ url: 'tcp://127.0.0.1:1' }, { url: 'tcp://127.0.0.1:2' }],
    ':1002': [{ url: 'tcp://127.0.0.1:1' }, { url: 'http://127.0.0.1:2/' }], // not all tcp
    'a.com': [{ url: 'tcp://127.0.0.1:1' }], // no port
    ':1003': [], // no targets
    '*.b.com:1004': [{ url: 'tcp://127.0.0.1:1' }], // glob host cannot be bound
  });
  assert.deepEqual([...dynamicKeys(t)].sort(), ['127.0.0.1:1001', ':1000']);
  // :port covers ip:port of the same port
  const both = fakeTable({ ':7': [{ url: 'tcp://127.0.0.1:1' }], '127.0.0.1:7': [{ url: 'tcp://127.0.0.1:2' }] });
  assert.deepEqual([...dynamicKeys(both)], [':7']);
  const cases: [string, { host: string; port: number } | undefined][] = [
    [':80', { host: '', port: 80 }],
    ['1.2.3.4:99', { host: '1.2.3.4', port: 99 }],
    ['[::1]:5', { host: '::1', port: 5 }],
    [':0', undefined],
    [':70000', undefined],
    ['a.com', undefined],
    [':x', undefined],
  ];
  for (const [k, want] of cases) assert.deepEqual(parseListenKey(k), want, k);
});

test('tcp-dynamic: opens and closes ports on table swaps; ip:port before :port', async (t) => {
  const echoA = await echoServer();
  const echoB = await echoServer();
  t.after(echoA.close);
  t.after(echoB.close);
  const p1 = await freePort();
  const p2 = await freePort();
  const env = makeDeps(undefined);
  const l = await startTcpDynamic(spec({ proto: 'tcp-dynamic', addr: '0.0.0.0:0', host: '0.0.0.0' }), env.deps);
  t.after(() => l.close(0));
  assert.equal(await listening(p1), false);

  env.store.swap(
    fakeTable({
      [`127.0.0.1:${p1}`]: [{ url: `tcp://127.0.0.1:${echoA.port}` }],
      [`:${p1}`]: [{ url: `tcp://127.0.0.1:${echoB.port}` }],
    }),
  );
  await until(() => env.log.lines.some((x) => x.includes(`listening on :${p1}`)));
  const raw0 = relayStats.raw;
  const r = await roundTrip(p1, 'via p1');
  // throws when bare handles are required here but missing; spliced on them otherwise
  if (rawTcpSkip() === undefined) assert.equal(relayStats.raw - raw0, 1, 'spliced on bare handles');
  assert.equal(r.data.toString(), 'via p1');
  await until(() => echoA.received.length === 1);
  assert.equal(echoB.received.length, 0, 'ip:port wins over :port');

  env.store.swap(fakeTable({ [`127.0.0.1:${p2}`]: [{ url: `tcp://127.0.0.1:${echoB.port}` }] }));
  await until(() => env.log.lines.some((x) => x.includes(`listening on 127.0.0.1:${p2}`)));
  assert.equal((await roundTrip(p2, 'via p2')).data.toString(), 'via p2');
  await until(() => env.log.lines.some((x) => x.includes(`closed listener on :${p1}`)));
  assert.equal(await listening(p1), false, 'the vanished route closed its port');
});

test('tcp-dynamic: refresh > 0 retries a port that could not be bound', async (t) => {
  const echo = await echoServer();
  t.after(echo.close);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as net.AddressInfo).port;
  const env = makeDeps(fakeTable({ [`127.0.0.1:${port}`]: [{ url: `tcp://127.0.0.1:${echo.port}` }] }));
  const l = await startTcpDynamic(spec({ proto: 'tcp-dynamic', refresh: 50 }), env.deps);
  t.after(() => l.close(0));
  await until(() => env.log.lines.some((x) => x.startsWith(`[ERROR] tcp-dynamic: cannot listen on 127.0.0.1:${port}`)));
  await new Promise((r) => blocker.close(r));
  await until(() => env.log.lines.some((x) => x.includes(`listening on 127.0.0.1:${port}`)));
  assert.equal((await roundTrip(port, 'late')).data.toString(), 'late');
});
