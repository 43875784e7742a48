import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrafficStats } from '../../src/metrics/traffic.ts';
import { makeTable, startTestAdmin } from './helpers.ts';

/** /api/traffic: windows, TCP figures, and the lighter ?series=routes the UI polls. */

test('/api/traffic?window= and ?series=routes', async (t) => {
  const table = await makeTable('route add web /a http://10.0.0.1:80/\nroute add db :3306 tcp://10.0.0.2:3306');
  const traffic = new TrafficStats();
  const [web, db] = [
    table.routes.find((r) => r.path === '/a')!,
    table.routes.find((r) => r.host + r.path === ':3306')!,
  ];
  traffic.record(web, web.targets[0]!, 200, 0.01);
  traffic.tcpOpen(db, db.targets[0]!);
  traffic.tcpClose(db, db.targets[0]!, 10, 20);
  const a = await startTestAdmin(t, { table, extra: { traffic } });
  const get = async (q: string) => {
    const r = await fetch(`${a.url}/api/traffic${q}`);
    const text = await r.text();
    return {
      status: r.status,
      body: (r.ok ? JSON.parse(text) : {}) as Record<string, unknown> & { routes: Record<string, unknown>[] },
    };
  };
  for (const w of ['5m', '1h', '24h']) assert.equal((await get(`?window=${w}`)).body.window, w);
  assert.equal((await get('?window=7d')).status, 400);
  const full = await get('');
  assert.equal(full.body.window, '5m');
  const tcp = full.body.routes.find((r) => r.proto === 'tcp')!;
  assert.equal(tcp.total, 1);
  const light = await get('?series=routes');
  const lt = light.body.routes.find((r) => r.proto === 'tcp')! as {
    requests: number[];
    targets: Record<string, unknown>[];
  };
  assert.equal(lt.requests.length, 30, 'routes keep their series');
  assert.equal(lt.targets[0]!.requests, undefined, 'targets carry totals only');
  assert.deepEqual([lt.targets[0]!.bytesInTotal, lt.targets[0]!.bytesOutTotal, lt.targets[0]!.total], [10, 20, 1]);
});
