/**
 * Passive outlier ejection with -proxy.workers=2 (issue #15): the workers share ejections through
 * the primary, so a target answering 503 is ejected once for the group (one log line, one
 * route.ejection count, after 5 failures counted over both workers), both workers skip it, the
 * primary's /api/routes and history show it, and a worker started later skips it from the start.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { acceptedBy, WireConn } from '../../bench/cluster-wire.ts';
import { childrenOf, freePort, startFabio, tail, until } from '../helpers/proc.ts';

async function backend(name: string, status: number, hits: Map<string, number>): Promise<{ s: Server; url: string }> {
  const s = createServer((_req, res) => {
    hits.set(name, (hits.get(name) ?? 0) + 1);
    res.statusCode = status;
    res.end(name);
  });
  s.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/` };
}

const json = async (url: string) => (await fetch(url)).json() as Promise<unknown>;

test('workers share ejections through the primary: ejected once, skipped by every worker', {
  skip: process.platform !== 'linux' ? 'which worker holds a connection is read from ss (Linux)' : false,
}, async (t) => {
  const hits = new Map<string, number>();
  const bs = [await backend('a', 200, hits), await backend('b', 503, hits), await backend('c', 200, hits)];
  t.after(() => {
    for (const b of bs) {
      b.s.closeAllConnections();
      b.s.close();
    }
  });
  const bUrl = (bs[1] as { url: string }).url;
  const [port, uiPort] = [await freePort(), await freePort()];
  const ui = `http://127.0.0.1:${uiPort}`;
  const fabio = startFabio([
    `-proxy.addr=127.0.0.1:${port}`,
    `-ui.addr=127.0.0.1:${uiPort}`,
    '-proxy.workers=2',
    '-proxy.strategy=rr',
    '-proxy.outlier.ejecttime=5m',
    '-metrics.prefix=fabio',
    '-registry.backend=static',
    `-registry.static.routes=${bs.map((b) => `route add svc / ${b.url}`).join('\n')}`,
  ]);
  t.after(async () => assert.equal(await fabio.stop(), 0));
  await fabio.waitFor(/2 worker processes serving/, 25_000);
  const workers = childrenOf(fabio.proc.pid);
  assert.equal(workers.length, 2, `worker pids ${workers.join(',')}`);

  // One keep-alive connection held by each worker.
  const conns: WireConn[] = [];
  t.after(() => {
    for (const c of conns) c.close();
  });
  const byWorker = new Map<number, WireConn>();
  const connectTo = async (pids: readonly number[]) => {
    for (let i = 0; i < 64 && pids.some((p) => !byWorker.has(p)); i++) {
      const c = new WireConn(port);
      conns.push(c);
      await c.ready;
      await c.get('/');
      const owner = acceptedBy(port).get(c.socket.localPort as number) ?? 0;
      if (pids.includes(owner) && !byWorker.has(owner)) byWorker.set(owner, c);
    }
    for (const p of pids) assert.ok(byWorker.has(p), `no connection landed on worker ${p}`);
  };
  await connectTo(workers);

  // Requests alternate between the workers until the primary reports b ejected.
  type Row = { dst: string; ejected: boolean; ejectedUntil?: string };
  const ejectedRow = async () =>
    ((await json(`${ui}/api/routes`)) as Row[]).find((r) => r.dst === bUrl && r.ejected === true);
  let row: Row | undefined;
  for (let i = 0; i < 300 && row === undefined; i++) {
    for (const c of byWorker.values()) await c.get('/');
    row = await ejectedRow();
  }
  assert.ok(row, `the primary never reported ${bUrl} ejected\n${tail(fabio, 30)}`);
  assert.ok(Date.parse(row.ejectedUntil ?? '') > Date.now() + 4 * 60_000, `ejectedUntil ${row.ejectedUntil}`);
  // Five failures counted for the group (each worker alone would have needed five of its own),
  // plus what a worker sent to b before the ejection reached it.
  const atEjection = hits.get('b') ?? 0;
  assert.ok(atEjection >= 5 && atEjection <= 8, `b got ${atEjection} requests before the ejection`);

  // Both workers skip b (a round first lets the ejection message reach the second worker).
  for (const c of byWorker.values()) await c.get('/');
  const before = hits.get('b') ?? 0;
  for (let i = 0; i < 20; i++) for (const c of byWorker.values()) assert.notEqual((await c.get('/')).body, 'b');
  assert.equal(hits.get('b'), before);

  // One ejection: one log line and one route.ejection count over the group.
  const lines = () => [...fabio.stdout, ...fabio.stderr].filter((l) => l.includes(`Ejecting target ${bUrl}`));
  assert.equal(lines().length, 1, lines().join('\n'));
  const m = await (await fetch(`${ui}/metrics`)).text();
  const counts = [...m.matchAll(/^fabio_route_ejection\{[^}]*\} (\d+)$/gm)].map((x) => Number(x[1]));
  assert.deepEqual(
    counts,
    [1],
    m
      .split('\n')
      .filter((l) => l.includes('ejection'))
      .join('\n'),
  );

  // The history records it.
  const history = (await json(`${ui}/api/routes/history`)) as { cause: string; outlier?: { message: string } }[];
  const ejections = history.filter((e) => e.outlier !== undefined);
  assert.deepEqual(
    ejections.map((e) => [e.cause, e.outlier?.message]),
    [['outlier', `ejected ${bUrl} of / for 5m0s`]],
  );

  // A worker started later receives the ejections in force: it never sends b a request.
  const victim = workers[0] as number;
  process.kill(victim, 'SIGKILL');
  const fresh = await until(() => childrenOf(fabio.proc.pid).find((p) => !workers.includes(p)), 15_000);
  await fabio.waitFor(new RegExp(`\\[INFO\\] worker ${fresh} serving$`), 15_000);
  byWorker.delete(victim);
  await connectTo([fresh]);
  const c = byWorker.get(fresh) as WireConn;
  for (let i = 0; i < 20; i++) assert.notEqual((await c.get('/')).body, 'b');
  assert.equal(hits.get('b'), before);
  assert.equal(lines().length, 1);
});

test('retries with two workers: a refused target costs no request on either worker (ejection off)', {
  skip: process.platform !== 'linux' ? 'which worker holds a connection is read from ss (Linux)' : false,
}, async (t) => {
  const hits = new Map<string, number>();
  const bs = [await backend('a', 200, hits), await backend('c', 200, hits)];
  t.after(() => {
    for (const b of bs) {
      b.s.closeAllConnections();
      b.s.close();
    }
  });
  // a port nothing listens on: every dial to it is refused
  const dead = `http://127.0.0.1:${await freePort()}/`;
  const [port, uiPort] = [await freePort(), await freePort()];
  const fabio = startFabio([
    `-proxy.addr=127.0.0.1:${port}`,
    `-ui.addr=127.0.0.1:${uiPort}`,
    '-proxy.workers=2',
    '-proxy.strategy=rr',
    '-proxy.outlier.failures=0',
    '-registry.backend=static',
    `-registry.static.routes=${[bs[0]?.url, dead, bs[1]?.url].map((u) => `route add svc / ${u}`).join('\n')}`,
  ]);
  t.after(async () => assert.equal(await fabio.stop(), 0));
  await fabio.waitFor(/2 worker processes serving/, 25_000);
  const workers = childrenOf(fabio.proc.pid);
  // one keep-alive connection held by each worker; then both ask in turn
  const conns: WireConn[] = [];
  t.after(() => {
    for (const c of conns) c.close();
  });
  const byWorker = new Map<number, WireConn>();
  for (let i = 0; i < 64 && byWorker.size < 2; i++) {
    const c = new WireConn(port);
    conns.push(c);
    await c.ready;
    assert.equal((await c.get('/')).status, 200);
    const owner = acceptedBy(port).get(c.socket.localPort as number) ?? 0;
    if (workers.includes(owner) && !byWorker.has(owner)) byWorker.set(owner, c);
  }
  assert.equal(byWorker.size, 2, 'a connection on each worker');
  // 15 rounds: about 5 refused dials per worker, inside the retry budget's floor (10 per 10 s per
  // route and worker; the budget is what stops a retry storm, tested in test/proxy/resilience/)
  const statuses = new Map<number, number>();
  for (let round = 0; round < 15; round++) {
    for (const c of byWorker.values()) {
      const r = await c.get('/');
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }
  assert.deepEqual([...statuses.keys()], [200], JSON.stringify([...statuses]));
  // the dead target was picked (round robin): the retries, not luck, kept the answers 200
  const m = await (await fetch(`http://127.0.0.1:${uiPort}/metrics`)).text();
  const retries = [...m.matchAll(/^\w*route_retry\{[^}]*\} (\d+)$/gm)].reduce((n, x) => n + Number(x[1]), 0);
  assert.ok(
    retries >= 10,
    `retries counted over both workers: ${retries}\n${m
      .split('\n')
      .filter((l) => l.includes('retry'))
      .join('\n')}`,
  );
});
