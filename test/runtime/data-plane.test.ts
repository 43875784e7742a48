/**
 * The bare-handle TCP switch is configuration passed in (ProxyDeps.rawTcp, set by the runtime from
 * FABIO_TS_RAW_TCP once at start-up), not module state: two data planes in one process can differ.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { memoryLogger } from '../../src/log/logger.ts';
import { noopMetrics } from '../../src/metrics/types.ts';
import type { RawTcp } from '../../src/proxy/tcp/raw-handle.ts';
import { rawTcp, rawTcpFromEnv } from '../../src/proxy/tcp/raw-handle.ts';
import { relayStats } from '../../src/proxy/tcp/relay.ts';
import { buildTable } from '../../src/routes/index.ts';
import { TableStore } from '../../src/routes/table-store.ts';
import { ListenFatalError, startDataPlane } from '../../src/runtime/data-plane.ts';
import { rawTcpSkip } from '../helpers/support.ts';
import { echoServer } from '../proxy/tcp/helpers.ts';

test('rawTcpFromEnv: FABIO_TS_RAW_TCP=0 turns the bare-handle path off, anything else keeps what Node offers', () => {
  assert.equal(rawTcpFromEnv({ FABIO_TS_RAW_TCP: '0' }), undefined);
  assert.equal(rawTcpFromEnv({}), rawTcp);
  assert.equal(rawTcpFromEnv({ FABIO_TS_RAW_TCP: '1' }), rawTcp);
});

/** A data plane with one proto=tcp listener on a free port, routed to `upstream`. */
async function plane(t: TestContext, upstream: number, raw: RawTcp | undefined) {
  const cfg = loadConfig(['-proxy.addr', '127.0.0.1:0;proto=tcp'], {});
  const store = new TableStore();
  const ls = await startDataPlane({
    cfg,
    store,
    log: memoryLogger('INFO'),
    metrics: noopMetrics,
    noRouteHtml: () => '',
    prometheus: async () => ({ contentType: 'text/plain', body: '' }),
    rawTcp: raw,
  });
  t.after(() => Promise.all(ls.map((l) => l.close(0))));
  const port = (ls[0] as { port: number }).port;
  const opts = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 10 } as const;
  store.swap(buildTable(`route add s :${port} tcp://127.0.0.1:${upstream}`, opts));
  return port;
}

function echoOnce(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end('ping'));
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
    });
    c.on('error', reject);
    c.on('close', () => resolve(got));
  });
}

test('two data planes in one process: one on bare handles, one on net.Socket, as each was told', async (t) => {
  const skip = rawTcpSkip();
  if (skip !== undefined) return t.skip(skip);
  const echo = await echoServer();
  t.after(echo.close);
  const onRaw = await plane(t, echo.port, rawTcp);
  const onNet = await plane(t, echo.port, undefined);
  const raw0 = relayStats.raw;
  assert.equal(await echoOnce(onNet), 'ping');
  assert.equal(relayStats.raw - raw0, 0, 'the net.Socket plane spliced nothing on bare handles');
  assert.equal(await echoOnce(onRaw), 'ping');
  assert.equal(relayStats.raw - raw0, 1, 'the raw plane spliced on bare handles');
});

test('a listener that cannot bind rejects with the [FATAL] text naming it as written', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const cfg = loadConfig(['-proxy.addr', `127.0.0.1:${port};proto=tcp`], {});
  await assert.rejects(
    startDataPlane({
      cfg,
      store: new TableStore(),
      log: memoryLogger('INFO'),
      metrics: noopMetrics,
      noRouteHtml: () => '',
      prometheus: async () => ({ contentType: 'text/plain', body: '' }),
      rawTcp: undefined,
    }),
    (e: unknown) =>
      e instanceof ListenFatalError &&
      e.message === `TCP proxy cannot listen on 127.0.0.1:${port}: address already in use`,
  );
});
