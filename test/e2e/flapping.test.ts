/**
 * Issue #17: 2,000 services in the embedded catalog, hundreds of them flapping (health checks
 * failing and passing) while keep-alive clients send requests to the others through the proxy,
 * with one process and with two workers (which receive the route text as deltas). Asserted: no
 * request fails, none reaches the wrong backend, and once the flapping stops every flapping
 * service's route is served again (the deltas converge on the catalog).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { startDevCatalog } from '../../src/registry/dev-catalog/index.ts';
import { freePort, startFabio, tail, until } from '../helpers/proc.ts';
import { backend } from './fixtures.ts';

const STABLE = 200;
const FLAPPING = 1_800;
const FLAPS = 600;

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

for (const workers of [1, 2]) {
  test(`${STABLE + FLAPPING} services, ${FLAPS} flaps while traffic flows (workers=${workers}): 0 failed, 0 misrouted`, async (t) => {
    const catalog = await startDevCatalog({ host: '127.0.0.1', port: 0, jitter: false });
    t.after(() => catalog.close());
    const stable = await Promise.all(Array.from({ length: 10 }, (_, i) => backend(`b${i}`)));
    const flap = await backend('flap');
    t.after(async () => {
      for (const b of [...stable, flap]) await b.close();
    });
    const put = async (path: string, body = '') => {
      const r = await fetch(`${catalog.url}${path}`, { method: 'PUT', body });
      await r.arrayBuffer();
      if (!r.ok) throw new Error(`PUT ${path}: ${r.status}`);
    };
    const register = (id: string, port: number, tag: string) =>
      put(
        '/v1/agent/service/register',
        JSON.stringify({
          ID: id,
          Name: id,
          Address: '127.0.0.1',
          Port: port,
          Tags: [tag],
          Check: { TTL: '1h', Status: 'passing' },
        }),
      );
    const ids = [...Array.from({ length: STABLE }, (_, i) => i), ...Array.from({ length: FLAPPING }, (_, i) => -1 - i)];
    await pool(ids, 16, (i) =>
      i >= 0
        ? register(`st-${i}`, (stable[i % 10] as { port: number }).port, `urlprefix-/st-${i}/`)
        : register(`fl-${-1 - i}`, flap.port, `urlprefix-/fl-${-1 - i}/`),
    );

    const [port, ui] = [await freePort(), await freePort()];
    const fabio = startFabio([
      `-registry.consul.addr=${catalog.url.replace(/^http:\/\//, '')}`,
      `-proxy.addr=127.0.0.1:${port}`,
      `-ui.addr=127.0.0.1:${ui}`,
      `-proxy.workers=${workers}`,
      '-registry.consul.register.enabled=false',
    ]);
    t.after(async () => assert.equal(await fabio.stop(), 0, tail(fabio)));
    const agent = new Agent({ connections: 8, keepAliveTimeout: 30_000 });
    t.after(() => agent.close());
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const r = await request(`http://127.0.0.1:${port}${path}`, { dispatcher: agent });
      return { status: r.statusCode, body: await r.body.text() };
    };
    const served = async (path: string, body: string) => {
      try {
        const r = await get(path);
        return r.status === 200 && r.body === body;
      } catch {
        return false;
      }
    };
    // every service routed before the flapping starts (the last registered ones last)
    await until(() => served(`/fl-${FLAPPING - 1}/`, 'flap'), 60_000, 100);
    await until(() => served(`/st-${STABLE - 1}/`, `b${(STABLE - 1) % 10}`), 60_000, 100);

    let done = false;
    let requests = 0;
    const failed: string[] = [];
    const misrouted: string[] = [];
    const traffic = Array.from({ length: 4 }, async (_, c) => {
      for (let k = c; !done; k += 7) {
        const i = (k * 37) % STABLE;
        const want = `b${i % 10}`;
        try {
          const r = await get(`/st-${i}/x`);
          requests++;
          if (r.status !== 200) failed.push(`/st-${i}/x: ${r.status} ${r.body.slice(0, 80)}`);
          else if (r.body !== want) misrouted.push(`/st-${i}/x: ${r.body} instead of ${want}`);
        } catch (err) {
          requests++;
          failed.push(`/st-${i}/x: ${(err as Error).message}`);
        }
      }
    });

    // flaps: one check at a time fails or passes again, a few in flight
    const down = new Set<number>();
    let r = 12345;
    const rand = () => {
      r = (Math.imul(r, 1103515245) + 12345) >>> 0;
      return r / 2 ** 32;
    };
    const flaps = Array.from({ length: FLAPS }, () => Math.floor(rand() * FLAPPING));
    await pool(flaps, 4, async (i) => {
      const fail = !down.has(i);
      if (fail) down.add(i);
      else down.delete(i);
      await put(`/v1/agent/check/${fail ? 'fail' : 'pass'}/service:fl-${i}`);
    });
    // everything healthy again: the proxy must converge on the catalog
    await pool([...down], 8, (i) => put(`/v1/agent/check/pass/service:fl-${i}`));
    const last = [...new Set(flaps)];
    await until(
      async () => {
        for (const i of last) if (!(await served(`/fl-${i}/`, 'flap'))) return false;
        return true;
      },
      60_000,
      100,
    );
    done = true;
    await Promise.all(traffic);

    assert.ok(requests > 100, `only ${requests} requests were made`);
    assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${requests} requests failed`);
    assert.deepEqual(misrouted.slice(0, 5), [], `${misrouted.length} of ${requests} requests misrouted`);
    const routes = (await (await fetch(`http://127.0.0.1:${ui}/api/routes`)).json()) as unknown[];
    assert.equal(routes.length, STABLE + FLAPPING);
  });
}
