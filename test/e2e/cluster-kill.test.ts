/**
 * With -proxy.workers=2, SIGKILL of one worker loses no request on the other, and the dead worker
 * is replaced.
 *
 * What is guaranteed (and asserted):
 *  - every request on a keep-alive connection held by the surviving worker succeeds, before, during
 *    and after the kill;
 *  - every request on a fresh connection opened after the killed worker is gone succeeds (the
 *    listening socket is shared by the workers, so the kernel hands new connections to a live one);
 *  - a new worker is started and serves.
 * Not guaranteed: requests on connections the killed worker had accepted (they are reset with it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { acceptedBy, WireConn } from '../../bench/cluster-wire.ts';
import { freePort, startFabio, until } from '../helpers/proc.ts';

const children = (pid: number | undefined): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('killing one of two workers loses no request on the other; the worker is replaced', {
  skip: process.platform !== 'linux' ? 'SCHED_NONE worker balancing is only checked on Linux' : false,
}, async (t) => {
  const backend = createServer((_req, res) => res.end('ok'));
  backend.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => {
    backend.closeAllConnections();
    backend.close();
  });
  const bport = (backend.address() as AddressInfo).port;
  const [port, ui] = [await freePort(), await freePort()];
  const fabio = startFabio([
    `-proxy.addr=127.0.0.1:${port}`,
    `-ui.addr=127.0.0.1:${ui}`,
    '-proxy.workers=2',
    '-registry.backend=static',
    `-registry.static.routes=route add b / http://127.0.0.1:${bport}/`,
  ]);
  t.after(async () => assert.equal(await fabio.stop(), 0));
  await fabio.waitFor(/2 worker processes serving/, 25_000);
  const workers = children(fabio.proc.pid);
  assert.equal(workers.length, 2, `worker pids ${workers.join(',')}`);

  // Keep-alive connections until the first worker holds at least two; that one survives.
  const conns: WireConn[] = [];
  t.after(() => {
    for (const c of conns) c.close();
  });
  let survivor = 0;
  let mine: WireConn[] = [];
  for (let i = 0; i < 64 && mine.length < 2; i++) {
    const c = new WireConn(port);
    await c.ready;
    assert.equal((await c.get('/')).body, 'ok');
    conns.push(c);
    const owners = acceptedBy(port);
    survivor ||= owners.get(c.socket.localPort as number) ?? 0;
    mine = conns.filter((x) => owners.get(x.socket.localPort as number) === survivor);
  }
  assert.ok(mine.length >= 2, 'no worker held two connections');
  const victim = workers.find((p) => p !== survivor) as number;
  assert.ok(victim && workers.includes(survivor));

  // Requests flow on the survivor's connections the whole time.
  let ok = 0;
  const failures: string[] = [];
  let running = true;
  t.after(() => {
    running = false;
  });
  const flows = mine.map(async (c) => {
    while (running) {
      try {
        const r = await c.get('/');
        if (r.status === 200 && r.body === 'ok') ok++;
        else failures.push(`status ${r.status}`);
      } catch (e) {
        failures.push(String(e));
      }
    }
  });
  await until(() => ok > 20, 5000, 5);
  process.kill(victim, 'SIGKILL');
  await until(() => !alive(victim), 5000, 10);
  const before = ok;
  await until(() => ok > before + 20, 5000, 5);

  // Fresh connections after the victim is gone: every one is answered by a live worker.
  for (let i = 0; i < 20; i++) {
    const c = new WireConn(port);
    conns.push(c);
    await c.ready;
    const r = await c.get('/');
    assert.equal(r.body, 'ok', `fresh connection ${i}`);
    c.close();
  }

  await fabio.waitFor(/exited \(SIGKILL\); starting a new one/, 5000);
  const replaced = await until(() => {
    const now = children(fabio.proc.pid);
    return now.length === 2 && now.includes(survivor) && !now.includes(victim) ? now : undefined;
  }, 15_000);
  const fresh = replaced.find((p) => p !== survivor) as number;
  running = false;
  await Promise.all(flows);
  assert.deepEqual(failures, [], 'requests on the surviving worker failed');
  assert.ok(ok > before + 20);

  // The replacement serves: once it listens (the primary logs `worker <pid> serving` for a
  // replacement), kill the first survivor as well; a fresh connection can then only be accepted by
  // the replacement (the survivor's own replacement takes about a second to start listening).
  await fabio.waitFor(new RegExp(`\\[INFO\\] worker ${fresh} serving$`), 15_000);
  process.kill(survivor, 'SIGKILL');
  await until(() => !alive(survivor), 5000, 10);
  const c = new WireConn(port);
  conns.push(c);
  await c.ready;
  assert.equal((await c.get('/')).body, 'ok');
  assert.equal(acceptedBy(port).get(c.socket.localPort as number), fresh);
});
