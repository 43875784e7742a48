import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shadowedRoutes } from '../../src/ui/shadowing.ts';
import { makeTable } from './helpers.ts';

test('a host-less route losing to several host routes is one warning naming the hosts', async () => {
  const t = await makeTable(
    [
      'route add api /api http://10.0.0.1:1/',
      'route add a a.com/ http://10.0.0.2:1/',
      'route add b b.com/ http://10.0.0.3:1/',
      'route add c c.com/ http://10.0.0.4:1/',
      'route add d d.com/ http://10.0.0.5:1/',
      'route add dapi d.com/api http://10.0.0.6:1/',
    ].join('\n'),
  );
  const sh = shadowedRoutes(t);
  assert.equal(sh.length, 1, JSON.stringify(sh));
  assert.deepEqual(sh[0]!.forHosts, ['a.com', 'b.com', 'c.com', 'd.com']);
  assert.deepEqual(sh[0]!.by, ['a.com/', 'b.com/', 'c.com/', 'd.com/api']);
  assert.equal(sh[0]!.service, 'api');
  assert.match(
    sh[0]!.message,
    /^requests for \/api on 4 hosts go to .*not to \/api: a\.com\/ \(a\), b\.com\/ \(b\), c\.com\/ \(c\), and 1 more$/,
  );
});

test('TCP, TCP+SNI and dynamic TCP routes are never reported as shadowed or shadowing', async () => {
  const t = await makeTable(
    [
      'route add db :9997 tcp://10.0.0.1:5432',
      'route add app app.example.com/ tcp://10.0.0.2:443 opts "proto=tcp+sni"',
      'route add dyn 10.0.0.9:7000/ tcp://10.0.0.3:7000 opts "proto=tcp-dynamic"',
      'route add web /web http://10.0.0.4:1/',
    ].join('\n'),
  );
  assert.deepEqual(shadowedRoutes(t), []);
});

test('explaining for the warnings does not move round-robin counters', async () => {
  const text =
    'route add api /api http://10.0.0.1:1/\nroute add a a.com/ http://10.0.0.2:1/\nroute add a a.com/ http://10.0.0.3:1/';
  const t = await makeTable(text, { strategy: 'rr', counters: new Map() });
  const first = t.lookup({ host: 'a.com', path: '/', tls: false })?.target.url;
  assert.equal(shadowedRoutes(t).length, 1);
  const second = t.lookup({ host: 'a.com', path: '/', tls: false })?.target.url;
  assert.notEqual(first, second, 'rr alternates between the two targets');
});
