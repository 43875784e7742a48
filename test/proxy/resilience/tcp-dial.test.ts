import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { rawTcpFromEnv } from '../../../src/proxy/tcp/raw-handle.ts';
import { freePort as deadPort } from '../../helpers/proc.ts';
import { echoServer, fakeTable, inMode, makeDeps, roundTrip, spec } from '../tcp/helpers.ts';

const modes = rawTcpFromEnv(process.env) !== undefined ? (['raw', 'net'] as const) : (['net'] as const);

async function setup(t: import('node:test').TestContext, mode: 'raw' | 'net', nums: Record<string, number>) {
  const echo = await echoServer();
  t.after(echo.close);
  const dead = await deadPort();
  const env = makeDeps(undefined, nums);
  const l = await startTcpListener(spec(), inMode(env.deps, mode));
  t.after(() => l.close(0));
  // The table always picks the dead target first (fakeTable answers a route's first target).
  env.store.swap(
    fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${dead}` }, { url: `tcp://127.0.0.1:${echo.port}` }] }),
  );
  return { ...env, l, dead };
}

for (const mode of modes) {
  test(`tcp (${mode}): a refused dial tries the next target once; the dead target is ejected`, async (t) => {
    const { l, log, dead } = await setup(t, mode, {
      'proxy.retry.attempts': 1,
      'proxy.outlier.failures': 3,
      'proxy.outlier.ejecttime': 3_600_000,
      'proxy.outlier.maxpercent': 50,
    });
    for (let i = 0; i < 12; i++) {
      const r = await roundTrip(l.port, `hello ${i}`);
      assert.equal(r.data.toString(), `hello ${i}`);
    }
    const refusals = log.lines.filter((x) => x.includes(`cannot connect to upstream 127.0.0.1:${dead}`));
    assert.equal(refusals.length, 3, log.lines.join('\n')); // then ejected: never dialled again
    assert.ok(log.lines.some((x) => x.includes(`Ejecting target tcp://127.0.0.1:${dead}`)));
  });

  test(`tcp (${mode}): proxy.retry.attempts=0 and proxy.outlier.failures=0 keep fabio's close on a refused dial`, async (t) => {
    const { l } = await setup(t, mode, {});
    for (let i = 0; i < 3; i++) {
      const r = await roundTrip(l.port, 'hello');
      assert.equal(r.data.length, 0);
    }
  });
}
