/**
 * Issue #18, item 2: live differences from fabio found by comparing both proxies side by side.
 */
import assert from 'node:assert/strict';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { test } from 'node:test';
import { testConfig } from '../../../src/config/index.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import { TableStore } from '../../../src/routes/table-store.ts';
import { TableUpdater } from '../../../src/runtime/table-updater.ts';
import { table as buildTable, req } from '../../routes/helpers.ts';
import { backend, echo, get, pathTest, proxy } from './harness.ts';

// (a) fabio's access log reads the client's request; Go's ReverseProxy appends the client address to
// X-Forwarded-For on the outgoing copy only, so `$header.X-Forwarded-For` is what the client sent.
pathTest('access log: $header.X-Forwarded-For is the value the client sent', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'log.access.format': '[$header.X-Forwarded-For] [$header.X-Forwarded-Proto] [$header.Forwarded]',
  });
  const r = await get(p.port, '/', { 'X-Forwarded-For': '203.0.113.7' });
  assert.equal(r.status, 200);
  // the upstream still gets the appended chain
  assert.equal(r.json().headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
  // headers fabio sets on the request itself stay visible as before
  assert.deepEqual(p.access, ['[203.0.113.7] [http] [for=127.0.0.1; proto=http; by=10.0.0.9; httpproto=http/1.1]\n']);

  // no header from the client: empty, as fabio
  p.access.length = 0;
  await get(p.port, '/');
  assert.match(p.access[0] ?? '', /^\[\] /);
});

pathTest('access log: a client-ip header spelled x-forwarded-for replaced the value fabio logs', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {
    'log.access.format': '[$header.X-Forwarded-For]',
    'proxy.header.clientip': 'x-forwarded-for',
  });
  await get(p.port, '/', { 'X-Forwarded-For': '203.0.113.7' });
  assert.deepEqual(p.access, ['[127.0.0.1]\n']);
});

// (b) fabio: `[ERROR] failed to process access rules: specifying allow and deny on the same route is
// not supported`; the target keeps no rules, so everybody passes.
test('allow and deny on one route: fabio wording as a table warning, rules ignored', () => {
  const t = buildTable('route add s / http://a:1/ opts "allow=ip:10.0.0.0/8 deny=ip:127.0.0.1"');
  assert.equal(t.warnings.length, 1);
  assert.match(
    t.warnings[0]?.message ?? '',
    /failed to process access rules: specifying allow and deny on the same route is not supported$/,
  );
});

test('allow and deny on one route: the table updater logs the line once, the UI/API list it', async () => {
  const store = new TableStore();
  const log = memoryLogger('TRACE');
  const u = new TableUpdater({ store, log, build: (text) => buildTable(text), routesFormat: 'delta' });
  const text = 'route add s / http://a:1/ opts "allow=ip:10.0.0.0/8 deny=ip:127.0.0.1"';
  u.update({ text, cause: 'test', index: 1 });
  u.update({ text: `${text}\nroute add t /t http://b:1/`, cause: 'test', index: 2 });
  u.flush();
  await u.firstTable;
  const want = 'failed to process access rules: specifying allow and deny on the same route is not supported';
  assert.equal(log.lines.filter((l) => l === `[WARN] ${want}`).length, 1, log.lines.join('\n'));
  assert.deepEqual(
    u.warnings().table.map((w) => w.message),
    [want],
  );
  u.close();
});

pathTest('allow and deny on one route: the request passes (no rules), the warning is the table warning', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/ opts "allow=ip:10.0.0.0/8 deny=ip:127.0.0.1"`);
  assert.equal((await get(p.port, '/')).status, 200);
  assert.match(p.store.current?.warnings[0]?.message ?? '', /specifying allow and deny on the same route/);
});

// fabio tests `Opts["allow"] != ""`: an empty allow= is no rule at all (fabio-ts refused everybody).
test('empty allow= or deny= is no rule, as in fabio', () => {
  for (const opts of ['allow=', 'deny=', 'allow= deny=ip:10.0.0.0/8']) {
    const t = buildTable(`route add s / http://a:1/ opts "${opts}"`);
    assert.equal(t.warnings.length, 0, opts);
    const target = t.lookup(req('h', '/'))?.target;
    if (opts.includes('deny=ip')) assert.equal(target?.accessRules?.allowed('10.1.1.1'), false, opts);
    else assert.equal(target?.accessRules, undefined, opts);
  }
});

// (c) fabio auto-detects proxy.localip only as the DEFAULT: `-proxy.localip=` set empty on purpose
// leaves it empty, and `Forwarded` then carries no `by=`.
test('proxy.localip set empty: stays empty (no auto-detection); unset: auto-detected', (t) => {
  const real = os.networkInterfaces;
  os.networkInterfaces = () => ({
    eth0: [
      {
        address: '192.0.2.55',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '192.0.2.55/24',
      },
    ],
  });
  syncBuiltinESMExports();
  t.after(() => {
    os.networkInterfaces = real;
    syncBuiltinESMExports();
  });
  assert.equal(testConfig({}).str('proxy.localip'), '192.0.2.55');
  assert.equal(testConfig({ 'proxy.localip': '' }).str('proxy.localip'), '');
  assert.equal(testConfig({ 'proxy.localip': '10.1.1.1' }).str('proxy.localip'), '10.1.1.1');
});

pathTest('proxy.localip empty: Forwarded has no by=', async (t) => {
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.localip': '' });
  const r = await get(p.port, '/');
  assert.equal(r.json().headers.forwarded, 'for=127.0.0.1; proto=http; httpproto=http/1.1');
});
