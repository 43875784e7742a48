import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Agent, request } from 'undici';
import { catalog, until } from './helpers.ts';

/**
 * Scale: 5,000 services x 3 instances with many blocking watchers. Figures are printed as test
 * diagnostics; the bounds are loose (CI machines vary) but catch an O(n^2) regression.
 */

const SERVICES = 5000;
const INSTANCES = 3;
const STATE_WATCHERS = 50;
const SERVICE_WATCHERS = 1000;

test(`scale: ${SERVICES} services x ${INSTANCES} instances, ${STATE_WATCHERS + SERVICE_WATCHERS} watchers`, {
  timeout: 120_000,
}, async (t) => {
  const c = await catalog(t);
  const agent = new Agent({ connections: 2000, pipelining: 0, keepAliveTimeout: 60_000 });
  t.after(() => agent.close());
  // Bodies are kept only when small: 50 copies of a 4.7 MB health/state answer are 235 MB.
  const call = async (method: 'GET' | 'PUT', path: string, body?: string) => {
    const r = await request(`${c.url}${path}`, { method, body, dispatcher: agent });
    const buf = Buffer.from(await r.body.arrayBuffer());
    const text =
      buf.length < 100_000 ? buf.toString() : `<${buf.length} bytes ${buf.subarray(buf.length - 200).toString()}>`;
    return { status: r.statusCode, index: Number(r.headers['x-consul-index']), text, size: buf.length };
  };

  let t0 = performance.now();
  const jobs: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    for (let i = 0; i < INSTANCES; i++) {
      jobs.push(
        JSON.stringify({
          ID: `svc${s}-${i}`,
          Name: `svc${s}`,
          Address: '10.0.0.1',
          Port: 10000 + i,
          Tags: [`urlprefix-/svc${s}`],
          Check: { CheckID: `chk-${s}-${i}`, TTL: '1h', Status: 'passing' },
        }),
      );
    }
  }
  // The first HTTP_REGISTRATIONS go over HTTP (throughput figure), the rest in-process.
  const HTTP_REGISTRATIONS = 1500;
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < HTTP_REGISTRATIONS) {
        const body = jobs[next++];
        const r = await call('PUT', '/v1/agent/service/register', body);
        assert.equal(r.status, 200);
      }
    }),
  );
  const registerMs = performance.now() - t0;
  t.diagnostic(
    `register ${HTTP_REGISTRATIONS} instances over HTTP (64 concurrent): ${registerMs.toFixed(0)} ms (${(HTTP_REGISTRATIONS / (registerMs / 1000)).toFixed(0)}/s)`,
  );
  t0 = performance.now();
  for (const body of jobs.slice(HTTP_REGISTRATIONS)) c.registerServiceForTest(JSON.parse(body));
  t.diagnostic(
    `register ${jobs.length - HTTP_REGISTRATIONS} instances in-process: ${(performance.now() - t0).toFixed(0)} ms`,
  );

  t0 = performance.now();
  const full = await call('GET', '/v1/health/state/any');
  const firstReadMs = performance.now() - t0;
  t0 = performance.now();
  await call('GET', '/v1/health/state/any');
  const cachedReadMs = performance.now() - t0;
  const all = await (await request(`${c.url}/v1/health/state/any`, { dispatcher: agent })).body.json();
  assert.equal((all as unknown[]).length, SERVICES * INSTANCES + 1);

  const svcIndexes = await Promise.all(
    Array.from({ length: SERVICE_WATCHERS }, async (_, i) => (await call('GET', `/v1/health/service/svc${i}`)).index),
  );
  let firstAnswer = 0;
  const stateW = Array.from({ length: STATE_WATCHERS }, () =>
    call('GET', `/v1/health/state/any?index=${full.index}&wait=60s`).then((r) => {
      firstAnswer ||= performance.now();
      return r;
    }),
  );
  let svcWoken = 0;
  const svcW = Array.from({ length: SERVICE_WATCHERS }, (_, i) =>
    call('GET', `/v1/health/service/svc${i}?index=${svcIndexes[i]}&wait=60s`).then((r) => {
      svcWoken++;
      return r;
    }),
  );
  await until(() => c.waiting() === STATE_WATCHERS + SERVICE_WATCHERS, 30_000, 'all watchers parked');
  t0 = performance.now();
  const flip = await call('PUT', '/v1/agent/check/fail/chk-0-0?note=down');
  assert.equal(flip.status, 200);
  const woke = await Promise.all(stateW);
  const wakeMs = performance.now() - t0;
  const firstMs = firstAnswer - t0;
  const bad = woke.filter((r) => !(r.status === 200 && r.index > full.index && r.text === woke[0]?.text));
  assert.equal(
    bad.length,
    0,
    `${bad.length} bad, e.g. ${bad[0]?.status} ${bad[0]?.index} vs ${full.index} ${bad[0]?.text.slice(0, 200)}`,
  );
  await svcW[0];
  // Only svc0's watcher was woken by svc0's flap.
  assert.equal(svcWoken, 1);
  assert.equal(c.waiting(), SERVICE_WATCHERS - 1);
  c.resetIndexForTest(); // releases the parked service watchers
  await Promise.all(svcW);

  // The realistic case: one fabio-ts watching health/state/any; median of 5 flaps.
  const single: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cur = await call('GET', '/v1/health/state/any');
    const w = call('GET', `/v1/health/state/any?index=${cur.index}&wait=60s`);
    await until(() => c.waiting() === 1, 5000, 'parked');
    t0 = performance.now();
    c.setCheckStatusForTest('chk-1-0', i % 2 === 0 ? 'critical' : 'passing');
    assert.ok((await w).index > cur.index);
    single.push(performance.now() - t0);
  }
  single.sort((a, b) => a - b);
  t.diagnostic(
    `one flap -> a single health/state/any watcher has the 4.7 MB answer in ${single[2]?.toFixed(0)} ms (median of 5)`,
  );

  const mb = (full.size / 1e6).toFixed(1);
  t.diagnostic(
    `health/state/any ${mb} MB: first read ${firstReadMs.toFixed(0)} ms, cached ${cachedReadMs.toFixed(0)} ms`,
  );
  t.diagnostic(
    `one flap -> first of ${STATE_WATCHERS} health/state watchers answered in ${firstMs.toFixed(0)} ms, all in ${wakeMs.toFixed(0)} ms; 1 of ${SERVICE_WATCHERS} health/service watchers woken`,
  );
  t.diagnostic(`heap used ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
});
