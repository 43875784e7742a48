import assert from 'node:assert/strict';
import net from 'node:net';
import { type TestContext, test } from 'node:test';
import tls from 'node:tls';
import { startSniListener, startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { makeCerts } from '../../helpers/certs.ts';
import { echoServer, fakeTable, makeDeps, spec, until } from './helpers.ts';

function v2Header(src: [string, number], dst: [string, number]): Buffer {
  const sig = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const body = Buffer.alloc(12);
  src[0].split('.').forEach((o, i) => (body[i] = Number(o)));
  dst[0].split('.').forEach((o, i) => (body[4 + i] = Number(o)));
  body.writeUInt16BE(src[1], 8);
  body.writeUInt16BE(dst[1], 10);
  return Buffer.concat([sig, Buffer.from([0x21, 0x11, 0, 12]), body]);
}

async function tcpWithPxy(t: TestContext, pxyIn: boolean, pxyOut: boolean) {
  const echo = await echoServer();
  t.after(echo.close);
  const env = makeDeps(undefined);
  const l = await startTcpListener(spec({ proxyProto: pxyIn, proxyProtoTimeout: 300 }), env.deps);
  t.after(() => l.close(0));
  const seen: string[] = [];
  const accessRules = { mode: 'allow' as const, allowed: (ip: string) => (seen.push(ip), true) };
  env.store.swap(
    fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}`, proxyProto: pxyOut, accessRules }] }),
  );
  return { ...env, echo, l, seen };
}

/** Sends bytes, half-closes, returns what came back (the echo) once the proxy closed. */
function send(port: number, data: Buffer | string): Promise<{ data: Buffer; localPort: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let localPort = 0;
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      localPort = s.localPort ?? 0;
      s.end(data);
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => resolve({ data: Buffer.concat(chunks), localPort }));
  });
}

test('PROXY protocol: v1 and v2 in (listener pxyproto), v1 out (route pxyproto=true)', async (t) => {
  const cases: [string, Buffer, string, string][] = [
    [
      'v1 in',
      Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n'),
      '1.2.3.4',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n',
    ],
    [
      'v2 in',
      v2Header(['10.0.0.1', 4000], ['10.0.0.2', 5000]),
      '10.0.0.1',
      'PROXY TCP4 10.0.0.1 10.0.0.2 4000 5000\r\n',
    ],
    [
      'v1 in, IPv6',
      Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n'),
      '2001:db8::1',
      'PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n',
    ],
  ];
  for (const [name, header, clientIp, upstreamHeader] of cases) {
    const { l, echo, seen } = await tcpWithPxy(t, true, true);
    const r = await send(l.port, Buffer.concat([header, Buffer.from('payload')]));
    assert.equal(
      r.data.toString(),
      `${upstreamHeader}payload`,
      `${name}: the upstream got a v1 header from the client of record`,
    );
    assert.deepEqual(seen, [clientIp], `${name}: access rules see the PROXY source`);
    await until(() => echo.received.length === 1);
  }
});

test('PROXY protocol: v1 out from a plain connection carries the real peer; in without out strips the header', async (t) => {
  {
    const { l } = await tcpWithPxy(t, false, true);
    const r = await send(l.port, 'x');
    assert.equal(r.data.toString(), `PROXY TCP4 127.0.0.1 127.0.0.1 ${r.localPort} ${l.port}\r\nx`);
  }
  {
    const { l, seen } = await tcpWithPxy(t, true, false);
    const r = await send(l.port, 'PROXY TCP4 9.9.9.9 8.8.8.8 1 2\r\nonly this');
    assert.equal(r.data.toString(), 'only this');
    assert.deepEqual(seen, ['9.9.9.9']);
  }
  {
    const { l, echo } = await tcpWithPxy(t, true, false);
    const r = await send(l.port, 'PROXY TCP4 garbage\r\n');
    assert.equal(r.data.length, 0, 'a malformed header closes the connection');
    assert.equal(echo.received.length, 0);
  }
});

test('PROXY protocol: tcp+sni with an inbound v1 header before the ClientHello', async (t) => {
  const { certs, ca, cleanup } = await makeCerts([['s.test']]);
  t.after(cleanup);
  const up = tls.createServer({ cert: certs[0]!.pem, key: certs[0]!.keyPem }, (s) => s.end('tls ok'));
  await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  t.after(() => up.close());
  const env = makeDeps(undefined);
  const l = await startSniListener(spec({ proto: 'tcp+sni', proxyProto: true }), env.deps);
  t.after(() => l.close(0));
  env.store.swap(fakeTable({ 's.test': [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
  const raw = net.connect(l.port, '127.0.0.1');
  await new Promise((r) => raw.once('connect', r));
  raw.write('PROXY TCP4 1.2.3.4 5.6.7.8 1111 2222\r\n');
  const text = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ socket: raw, servername: 's.test', ca: ca.pem });
    let d = '';
    s.on('data', (c) => (d += c));
    s.on('error', reject);
    s.on('close', () => resolve(d));
  });
  assert.equal(text, 'tls ok');
});

/**
 * proxy.pxytrust: a PROXY header is honoured only from the listed peers. The issue: `PROXY TCP4
 * 10.1.2.3 ...` from anywhere passed `allow=ip:10.0.0.0/8`, and `8.8.8.8` passed `deny=ip:127.0.0.0/8`.
 */
async function trustSetup(t: TestContext, trust: string, rules: { mode: 'allow' | 'deny'; nets: string }) {
  const echo = await echoServer();
  t.after(echo.close);
  const env = makeDeps(undefined, {}, { 'proxy.pxytrust': trust });
  const l = await startTcpListener(spec({ proxyProto: true, proxyProtoTimeout: 300 }), env.deps);
  t.after(() => l.close(0));
  const seen: string[] = [];
  const inNet = (ip: string) => ip.startsWith(rules.nets);
  const accessRules = {
    mode: rules.mode,
    allowed: (ip: string) => (seen.push(ip), rules.mode === 'allow' ? inNet(ip) : !inNet(ip)),
  };
  env.store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${echo.port}`, accessRules }] }));
  return { ...env, echo, l, seen };
}

test('PROXY trust: a header from a peer outside proxy.pxytrust closes the connection; rules see the real peer', async (t) => {
  const cases = [
    {
      name: 'allow bypass',
      rules: { mode: 'allow' as const, nets: '10.' },
      hdr: 'PROXY TCP4 10.1.2.3 10.0.0.1 1 2\r\n',
    },
    { name: 'deny bypass', rules: { mode: 'deny' as const, nets: '127.' }, hdr: 'PROXY TCP4 8.8.8.8 10.0.0.1 1 2\r\n' },
  ];
  for (const c of cases) {
    const { l, echo, seen, log } = await trustSetup(t, '10.0.0.0/8', c.rules);
    const r = await send(l.port, `${c.hdr}secret`);
    assert.equal(r.data.length, 0, `${c.name}: closed`);
    assert.deepEqual(seen, [], `${c.name}: never reached the access rules with the forged address`);
    assert.equal(echo.received.length, 0, `${c.name}: nothing reached the upstream`);
    const lines = log.lines.filter((x) => x.includes('untrusted'));
    assert.deepEqual(lines, [`[INFO] tcp: PROXY header from untrusted peer 127.0.0.1, connection closed`], c.name);
    // the same peer without a header is judged by its own address
    const plain = await send(l.port, 'plain');
    assert.deepEqual(seen, ['127.0.0.1'], `${c.name}: rules see the real peer`);
    assert.equal(plain.data.length, 0, `${c.name}: denied by the rules`);
  }
});

test('PROXY trust: a header from a peer inside proxy.pxytrust is honoured', async (t) => {
  const { l, echo, seen } = await trustSetup(t, '192.168.0.0/16, 127.0.0.0/8', { mode: 'allow', nets: '10.' });
  const r = await send(l.port, 'PROXY TCP4 10.1.2.3 10.0.0.1 1 2\r\nhello');
  assert.equal(r.data.toString(), 'hello');
  assert.deepEqual(seen, ['10.1.2.3']);
  await until(() => echo.received.length === 1);
});
