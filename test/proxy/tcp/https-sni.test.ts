import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import { testConfig } from '../../../src/config/index.ts';
import { memoryLogger } from '../../../src/log/logger.ts';
import { startHttpsTcpSni, startTcpListener } from '../../../src/proxy/tcp/index.ts';
import type { ProxyDeps } from '../../../src/proxy/types.ts';
import { buildTable, TableStore } from '../../../src/routes/index.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { countingMetrics } from './helpers.ts';

const OPTS = { matcher: 'prefix', strategy: 'rnd', globDisabled: false, globCacheSize: 100 } as const;

test('https+tcp+sni: a passthrough route and a terminated HTTP route on one port', async (t) => {
  const { certs, ca, cleanup } = await makeCerts([['pass.test'], ['web.test']]);
  t.after(cleanup);
  // passthrough backend: its own TLS, its own certificate
  const tlsUp = tls.createServer({ cert: certs[0]!.pem, key: certs[0]!.keyPem }, (s) => {
    s.on('error', () => {});
    s.end('passthrough backend');
  });
  await new Promise<void>((r) => tlsUp.listen(0, '127.0.0.1', r));
  t.after(() => tlsUp.close());
  // plain HTTP backend behind the terminated route
  const httpUp = http.createServer((req, res) => res.end(`http backend ${req.url} host=${req.headers.host}`));
  await new Promise<void>((r) => httpUp.listen(0, '127.0.0.1', r));
  t.after(() => httpUp.close());
  const pTls = (tlsUp.address() as net.AddressInfo).port;
  const pHttp = (httpUp.address() as net.AddressInfo).port;

  const cfg = testConfig({
    'proxy.cs': `cs=c1;type=file;cert=${certs[1]!.certFile};key=${certs[1]!.keyFile}`,
    'proxy.addr': '127.0.0.1:0;proto=https+tcp+sni;cs=c1',
  });
  const store = new TableStore();
  store.swap(
    buildTable(
      `route add pass pass.test tcp://127.0.0.1:${pTls}\nroute add web web.test/ http://127.0.0.1:${pHttp}/`,
      OPTS,
    ),
  );
  const log = memoryLogger('TRACE');
  const metrics = countingMetrics();
  const deps: ProxyDeps = { cfg, store, log, metrics, noRouteHtml: () => '', accessLog: undefined };
  const l = await startHttpsTcpSni(cfg.listeners[0]!, deps);
  t.after(() => l.close(0));

  const pass = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ port: l.port, host: '127.0.0.1', servername: 'pass.test', ca: ca.pem }, () => {
      assert.equal(s.getPeerCertificate().subject.CN, 'pass.test', 'the backend certificate, not the listener one');
    });
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('error', reject);
    s.on('close', () => resolve(d));
  });
  assert.equal(pass, 'passthrough backend');

  const web = await new Promise<string>((resolve, reject) => {
    const req = https_get(l.port, 'web.test', '/hello', ca.pem, resolve, reject);
    req.end();
  });
  assert.equal(web, `http backend /hello host=web.test`);
  assert.equal(metrics.counts['tcp_sni.conn'], 1);
  assert.ok(
    log.lines.some((x) => /^\[INFO\] HTTPS\+TCP\+SNI proxy listening on 127\.0\.0\.1:\d+$/.test(x)),
    log.lines.join('\n'),
  );
});

function https_get(
  port: number,
  host: string,
  path: string,
  ca: string,
  resolve: (s: string) => void,
  reject: (e: Error) => void,
) {
  return https
    .request({ port, host: '127.0.0.1', servername: host, path, ca, headers: { host }, agent: false }, (res) => {
      let d = '';
      res.on('data', (c) => (d += c));
      res.on('end', () => resolve(d));
    })
    .on('error', reject);
}

test('tcp with cs=: TLS terminated by the listener, plaintext spliced to the target', async (t) => {
  const { certs, ca, cleanup } = await makeCerts([['tcp.test']]);
  t.after(cleanup);
  const echo = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d) => s.end(`plain:${d}`));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  t.after(() => echo.close());
  const cfg = testConfig({
    'proxy.cs': `cs=c1;type=file;cert=${certs[0]!.certFile};key=${certs[0]!.keyFile}`,
    'proxy.addr': '127.0.0.1:0;proto=tcp;cs=c1',
  });
  const store = new TableStore();
  const log = memoryLogger('TRACE');
  const metrics = countingMetrics();
  const deps: ProxyDeps = { cfg, store, log, metrics, noRouteHtml: () => '', accessLog: undefined };
  const l = await startTcpListener(cfg.listeners[0]!, deps);
  t.after(() => l.close(0));
  store.swap(buildTable(`route add e :${l.port} tcp://127.0.0.1:${(echo.address() as net.AddressInfo).port}`, OPTS));
  const got = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ port: l.port, host: '127.0.0.1', servername: 'tcp.test', ca: ca.pem }, () =>
      s.write('secret'),
    );
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('error', reject);
    s.on('close', () => resolve(d));
  });
  assert.equal(got, 'plain:secret');
  assert.equal(metrics.counts['tcp.conn'], 1);
});

test('https+tcp+sni: shutdown ends idle keep-alive HTTP connections instead of waiting for the grace', async (t) => {
  const { certs, ca, cleanup } = await makeCerts([['web.test']]);
  t.after(cleanup);
  const httpUp = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => httpUp.listen(0, '127.0.0.1', r));
  t.after(() => httpUp.close());
  const cfg = testConfig({
    'proxy.cs': `cs=c1;type=file;cert=${certs[0]!.certFile};key=${certs[0]!.keyFile}`,
    'proxy.addr': '127.0.0.1:0;proto=https+tcp+sni;cs=c1',
  });
  const store = new TableStore();
  store.swap(
    buildTable(`route add web web.test/ http://127.0.0.1:${(httpUp.address() as net.AddressInfo).port}/`, OPTS),
  );
  const deps: ProxyDeps = {
    cfg,
    store,
    log: memoryLogger('TRACE'),
    metrics: countingMetrics(),
    noRouteHtml: () => '',
    accessLog: undefined,
  };
  const l = await startHttpsTcpSni(cfg.listeners[0]!, deps);
  const agent = new https.Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get(
        { port: l.port, host: '127.0.0.1', servername: 'web.test', headers: { host: 'web.test' }, ca: ca.pem, agent },
        (res) => {
          let d = '';
          res.on('data', (c) => (d += c));
          res.on('end', () => resolve(d));
        },
      )
      .on('error', reject);
  });
  assert.equal(body, 'ok');
  // the agent keeps the connection alive; a grace longer than the test's timeout (120 s) means
  // close() must end the idle keep-alive connection itself rather than wait the grace out
  await l.close(10 * 60_000);
});
