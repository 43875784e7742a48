import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { EventHub } from '../../src/ui/events.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('EventHub: a change with no page open arms no timer (no wake-up per catalog change); an open page still gets it', async (t) => {
  const hub = new EventHub();
  t.after(() => hub.close());
  const before = timers();
  hub.changed();
  hub.changed();
  assert.equal(timers(), before);

  const srv = createServer((req, res) => hub.attach(req, res));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const res = await new Promise<import('node:http').IncomingMessage>((resolve) =>
    get(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, resolve),
  );
  res.setEncoding('utf8');
  let text = '';
  const until = async (s: string) => {
    while (!text.includes(s)) text += (await once(res, 'data'))[0];
  };
  // the page opened after two unseen changes: its hello carries the current sequence
  await until('event: hello\ndata: 2\n');
  hub.changed();
  await until('event: routes\ndata: 3\n');
  res.destroy();
});
