import assert from 'node:assert/strict';
import type net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { startSniListener, startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { buildTable, serviceRouteCommands } from '../../../src/routes/index.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { makeDeps, spec } from './helpers.ts';

const OPTS = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 100 } as const;

/** The walkthrough of issue 5 with the real tag translation and route engine. */
test('walkthrough: urlprefix-:PORT proto=tcp and urlprefix-NAME/ proto=tcp+sni tags route end to end', async (t) => {
  const { certs, ca, cleanup } = await makeCerts([['mysite-sni-1.com'], ['mysite-sni-2.com'], ['127.0.0.1']]);
  t.after(cleanup);
  const backend = async (i: number) => {
    const s = tls.createServer({ cert: certs[i]!.pem, key: certs[i]!.keyPem }, (c) => {
      c.on('error', () => {});
      c.end(`backend ${i}`);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    t.after(() => s.close());
    return (s.address() as net.AddressInfo).port;
  };
  const [p1, p2, p3] = await Promise.all([backend(0), backend(1), backend(2)]);

  const envTcp = makeDeps(undefined);
  const tcpL = await startTcpListener(spec(), envTcp.deps);
  t.after(() => tcpL.close(0));
  const envSni = makeDeps(undefined);
  const sniL = await startSniListener(spec({ proto: 'tcp+sni' }), envSni.deps);
  t.after(() => sniL.close(0));

  const inst = (service: string, port: number, tags: string[]) =>
    serviceRouteCommands({ service, addr: '127.0.0.1', port, tags, tagPrefix: 'urlprefix-', env: {} });
  const lines = [
    ...inst('tls-svc', p3, [`urlprefix-:${tcpL.port} proto=tcp`]).lines,
    ...inst('sni-1', p1, ['urlprefix-mysite-sni-1.com/ proto=tcp+sni']).lines,
    ...inst('sni-2', p2, ['urlprefix-mysite-sni-2.com/ proto=tcp+sni']).lines,
  ];
  const table = buildTable(lines.join('\n'), OPTS);
  envTcp.store.swap(table);
  envSni.store.swap(table);

  const get = (port: number, servername: string | undefined) =>
    new Promise<{ text: string; error?: NodeJS.ErrnoException; secure: boolean }>((resolve) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca: ca.pem, ...(servername ? { servername } : {}) });
      let text = '';
      let error: NodeJS.ErrnoException | undefined;
      let secure = false;
      s.on('secureConnect', () => (secure = true));
      s.on('data', (c) => (text += c));
      s.on('error', (e) => (error = e));
      s.on('close', () => resolve({ text, error, secure }));
    });
  assert.equal((await get(tcpL.port, undefined)).text, 'backend 2', lines.join('\n'));
  assert.equal((await get(sniL.port, 'mysite-sni-1.com')).text, 'backend 0');
  assert.equal((await get(sniL.port, 'mysite-sni-2.com')).text, 'backend 1');
  const unknown = await get(sniL.port, 'mysite-sni-3.com');
  assert.equal(unknown.text, '');
  // the proxy closed the connection after reading the ClientHello: no handshake with anyone, and the
  // listener says why (a refused connection or a certificate error would be a different failure)
  assert.equal(unknown.secure, false);
  assert.equal(unknown.error?.code, 'ECONNRESET', String(unknown.error));
  assert.match(unknown.error?.message ?? '', /before secure TLS connection was established/);
  assert.ok(
    envSni.log.lines.some((l) => l.includes('no route for mysite-sni-3.com')),
    envSni.log.lines.join('\n'),
  );
  assert.equal((await get(sniL.port, 'MYSITE-SNI-2.COM')).text, 'backend 1');
});
