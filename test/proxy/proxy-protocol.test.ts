import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parsePeerTrust, parseProxyHeader, proxyV1Header, readProxyHeader } from '../../src/proxy/proxy-protocol.ts';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = verCmd;
  h[1] = fam;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, h, body]);
}
const v4body = (tlv = Buffer.alloc(0)) =>
  Buffer.concat([Buffer.from([192, 168, 1, 2, 10, 0, 0, 1]), Buffer.from([0x30, 0x39, 0x01, 0xbb]), tlv]);
const v6body = Buffer.concat([
  Buffer.from('20010db8000000000000000000000001', 'hex'),
  Buffer.from('00000000000000000000000000000001', 'hex'),
  Buffer.from([0x00, 0x50, 0x1f, 0x90]),
]);

const cases: { name: string; input: Buffer; want: unknown }[] = [
  {
    name: 'v1 TCP4',
    input: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET'),
    want: {
      done: true,
      length: 36,
      version: 1,
      source: { address: '1.2.3.4', port: 1111 },
      destination: { address: '5.6.7.8', port: 80 },
    },
  },
  {
    name: 'v1 TCP6',
    input: Buffer.from('PROXY TCP6 2001:DB8:0::1 0:0::1 65535 0\r\n'),
    want: {
      done: true,
      length: 41,
      version: 1,
      source: { address: '2001:db8::1', port: 65535 },
      destination: { address: '::1', port: 0 },
    },
  },
  {
    name: 'v1 TCP6 IPv4-mapped shown as IPv4 (as Go prints it)',
    input: Buffer.from('PROXY TCP6 ::ffff:10.1.2.3 ::FFFF:10.0.0.1 1 2\r\n'),
    want: {
      done: true,
      length: 48,
      version: 1,
      source: { address: '10.1.2.3', port: 1 },
      destination: { address: '10.0.0.1', port: 2 },
    },
  },
  {
    name: 'v2 INET6 IPv4-mapped shown as IPv4',
    input: v2(
      0x21,
      0x21,
      Buffer.concat([
        Buffer.from('00000000000000000000ffffc0a80102', 'hex'),
        Buffer.from('00000000000000000000ffff0a000001', 'hex'),
        Buffer.from([0, 1, 0, 2]),
      ]),
    ),
    want: {
      done: true,
      length: 52,
      version: 2,
      source: { address: '192.168.1.2', port: 1 },
      destination: { address: '10.0.0.1', port: 2 },
    },
  },
  { name: 'v1 UNKNOWN', input: Buffer.from('PROXY UNKNOWN\r\n'), want: { done: true, length: 15, version: 1 } },
  {
    name: 'v1 UNKNOWN with addresses',
    input: Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'),
    want: { done: true, length: 35, version: 1 },
  },
  { name: 'v1 partial', input: Buffer.from('PROXY TCP4 1.2.3.4'), want: { done: false } },
  { name: 'v1 prefix partial', input: Buffer.from('PRO'), want: { done: false } },
  { name: 'plain HTTP', input: Buffer.from('GET / HTTP/1.1\r\n'), want: { done: true, length: 0, version: 0 } },
  {
    name: 'plain starting with P',
    input: Buffer.from('POST / HTTP/1.1\r\n'),
    want: { done: true, length: 0, version: 0 },
  },
  { name: 'plain TLS', input: Buffer.from([0x16, 0x03, 0x01]), want: { done: true, length: 0, version: 0 } },
  { name: 'v1 bad port', input: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 70000 80\r\n'), error: true } as never,
  { name: 'v1 family mismatch', input: Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 80\r\n'), error: true } as never,
  { name: 'v1 unknown proto', input: Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 1 80\r\n'), error: true } as never,
  { name: 'v1 too few fields', input: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), error: true } as never,
  { name: 'v1 no CRLF within 107 bytes', input: Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), error: true } as never,
  {
    name: 'v2 PROXY inet',
    input: Buffer.concat([v2(0x21, 0x11, v4body()), Buffer.from('x')]),
    want: {
      done: true,
      length: 28,
      version: 2,
      source: { address: '192.168.1.2', port: 12345 },
      destination: { address: '10.0.0.1', port: 443 },
    },
  },
  {
    name: 'v2 inet with TLVs skipped',
    input: v2(0x21, 0x11, v4body(Buffer.from([0x04, 0x00, 0x02, 0xaa, 0xbb]))),
    want: {
      done: true,
      length: 33,
      version: 2,
      source: { address: '192.168.1.2', port: 12345 },
      destination: { address: '10.0.0.1', port: 443 },
    },
  },
  {
    name: 'v2 PROXY inet6',
    input: v2(0x21, 0x21, v6body),
    want: {
      done: true,
      length: 52,
      version: 2,
      source: { address: '2001:db8::1', port: 80 },
      destination: { address: '::1', port: 8080 },
    },
  },
  { name: 'v2 LOCAL', input: v2(0x20, 0x00, Buffer.alloc(0)), want: { done: true, length: 16, version: 2 } },
  { name: 'v2 LOCAL with inet body', input: v2(0x20, 0x11, v4body()), want: { done: true, length: 28, version: 2 } },
  { name: 'v2 UNSPEC', input: v2(0x21, 0x00, Buffer.alloc(3)), want: { done: true, length: 19, version: 2 } },
  { name: 'v2 partial signature', input: SIG.subarray(0, 5), want: { done: false } },
  { name: 'v2 partial body', input: v2(0x21, 0x11, v4body()).subarray(0, 20), want: { done: false } },
  { name: 'v2 bad version', input: v2(0x11, 0x11, v4body()), error: true } as never,
  { name: 'v2 bad command', input: v2(0x23, 0x11, v4body()), error: true } as never,
  { name: 'v2 bad family', input: v2(0x21, 0x41, v4body()), error: true } as never,
  { name: 'v2 body shorter than inet addresses', input: v2(0x21, 0x11, Buffer.alloc(4)), error: true } as never,
];

for (const c of cases as { name: string; input: Buffer; want?: unknown; error?: boolean }[]) {
  test(`parseProxyHeader: ${c.name}`, () => {
    const r = parseProxyHeader(c.input);
    if (c.error) assert.ok('error' in r && typeof r.error === 'string', JSON.stringify(r));
    else assert.deepEqual(r, c.want);
  });
}

test('parseProxyHeader never throws and stays within bounds (fuzz)', () => {
  const prefixes = fc.constantFrom(
    Buffer.alloc(0),
    Buffer.from('PROXY '),
    Buffer.from('PROXY TCP4 '),
    SIG,
    Buffer.concat([SIG, Buffer.from([0x21, 0x11])]),
  );
  fc.assert(
    fc.property(prefixes, fc.uint8Array({ maxLength: 300 }), (p, tail) => {
      const buf = Buffer.concat([p, Buffer.from(tail)]);
      const r = parseProxyHeader(buf);
      if ('error' in r) return typeof r.error === 'string';
      if (r.done) return r.length >= 0 && r.length <= buf.length;
      return true;
    }),
    { numRuns: 20000 },
  );
});

test('proxyV1Header', () => {
  assert.equal(
    proxyV1Header({ address: '1.2.3.4', port: 1 }, { address: '5.6.7.8', port: 2 }),
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
  );
  assert.equal(
    proxyV1Header({ address: '::ffff:1.2.3.4', port: 1 }, { address: '::ffff:5.6.7.8', port: 2 }),
    'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
  );
  assert.equal(proxyV1Header({ address: '::1', port: 1 }, { address: '::1', port: 2 }), 'PROXY TCP6 ::1 ::1 1 2\r\n');
  assert.equal(proxyV1Header({ address: '', port: 1 }, { address: '::1', port: 2 }), 'PROXY UNKNOWN\r\n');
  // what we write, we read back
  const r = parseProxyHeader(Buffer.from(proxyV1Header({ address: '::1', port: 9 }, { address: '1.2.3.4', port: 10 })));
  assert.ok(r.done && r.version === 1 && r.source?.address === '::1' && r.destination?.address === '1.2.3.4');
});

/** A server whose connections go through readProxyHeader; resolves each result with the bytes after it. */
async function server(t: { after(fn: () => unknown): void }, timeoutMs = 500) {
  const results: Promise<{ info?: unknown; err?: Error; rest: string; destroyed: boolean }>[] = [];
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    results.push(
      readProxyHeader(sock, timeoutMs).then(
        async (info) => {
          sock.resume();
          let rest = '';
          sock.on('data', (d: Buffer) => (rest += d.toString('latin1')));
          await once(sock, 'end');
          sock.end();
          return { info, rest, destroyed: false };
        },
        (err: Error) => {
          sock.destroy();
          return { err, rest: '', destroyed: true };
        },
      ),
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const next = async () => {
    const deadline = Date.now() + 3000;
    while (results.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    return results.shift()!;
  };
  return { port, next };
}

async function sendBytewise(port: number, data: Buffer, end = true) {
  const c = net.connect(port, '127.0.0.1');
  c.setNoDelay(true);
  c.on('error', () => {});
  await once(c, 'connect');
  for (const b of data) {
    c.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  if (end) c.end();
  return c;
}

test('readProxyHeader: v1 split in 1-byte writes, extra bytes preserved', async (t) => {
  const s = await server(t);
  const c = await sendBytewise(s.port, Buffer.from('PROXY TCP4 9.8.7.6 1.2.3.4 4000 443\r\nhello world'));
  const r = await await s.next();
  c.destroy();
  assert.deepEqual(r.info, {
    version: 1,
    source: { address: '9.8.7.6', port: 4000 },
    destination: { address: '1.2.3.4', port: 443 },
  });
  assert.equal(r.rest, 'hello world');
});

test('readProxyHeader: v2 in one write with payload', async (t) => {
  const s = await server(t);
  const c = net.connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  c.end(Buffer.concat([v2(0x21, 0x21, v6body), Buffer.from('payload')]));
  const r = await s.next();
  assert.deepEqual(r.info, {
    version: 2,
    source: { address: '2001:db8::1', port: 80 },
    destination: { address: '::1', port: 8080 },
  });
  assert.equal(r.rest, 'payload');
});

test('readProxyHeader: v2 split bytewise', async (t) => {
  const s = await server(t);
  const c = await sendBytewise(s.port, Buffer.concat([v2(0x21, 0x11, v4body(Buffer.alloc(10))), Buffer.from('ab')]));
  const r = await s.next();
  c.destroy();
  assert.equal((r.info as { source: { address: string } }).source.address, '192.168.1.2');
  assert.equal(r.rest, 'ab');
});

test('readProxyHeader: connection without header is plain, bytes preserved', async (t) => {
  const s = await server(t);
  const c = net.connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  c.end('GET / HTTP/1.0\r\n\r\n');
  const r = await s.next();
  assert.deepEqual(r.info, { version: 0 });
  assert.equal(r.rest, 'GET / HTTP/1.0\r\n\r\n');
});

test('readProxyHeader: garbage after PROXY prefix is rejected', async (t) => {
  const s = await server(t);
  const c = net.connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  c.write('PROXY TCP4 garbage here x y\r\n');
  const r = await s.next();
  c.destroy();
  assert.ok(r.err && r.destroyed);
  assert.match(r.err.message, /proxy protocol v1/);
});

test('readProxyHeader: timeout on an incomplete header', async (t) => {
  const s = await server(t, 100);
  const c = net.connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  c.write('PROXY TCP4 1.2.');
  const r = await s.next();
  c.destroy();
  assert.match(String(r.err?.message), /no header within 100ms/);
});

test('readProxyHeader: peer closes before header completes', async (t) => {
  const s = await server(t, 2000);
  const c = net.connect(s.port, '127.0.0.1');
  c.on('error', () => {});
  c.end('PROXY TCP4');
  const r = await s.next();
  assert.match(String(r.err?.message), /closed before header/);
});

test('readProxyHeader + http.Server: the request after the header is served', async (t) => {
  const h = http.createServer((req, res) => res.end(`ok ${req.url}`));
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    readProxyHeader(sock, 500).then(
      () => {
        h.emit('connection', sock); // no resume(): the socket must not be left paused
      },
      () => sock.destroy(),
    );
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => {});
  c.write('PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  let body = '';
  c.on('data', (d: Buffer) => (body += d));
  await once(c, 'end');
  assert.match(body, /^HTTP\/1\.1 200/);
  assert.match(body, /ok \/x$/);
});

test('readProxyHeader: a consumer that attaches later still gets every byte', async (t) => {
  const srv = net.createServer(async (sock) => {
    sock.on('error', () => {});
    await readProxyHeader(sock, 500);
    await new Promise((r) => setTimeout(r, 30)); // the scenario, not a wait: bytes arrive before anyone reads
    sock.on('data', (d: Buffer) => sock.write(d));
    sock.on('end', () => sock.end());
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => srv.close());
  const c = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  c.on('error', () => {});
  c.write('PROXY UNKNOWN\r\nfirst-');
  setTimeout(() => c.end('second'), 5);
  let got = '';
  c.on('data', (d: Buffer) => (got += d));
  await once(c, 'end');
  assert.equal(got, 'first-second');
});

/** One raw request on a pxyproto HTTP listener; resolves with everything read until the proxy closed. */
async function rawHttp(port: number, head: string, path: string): Promise<string> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.write(`${head}GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  await once(s, 'close');
  return out;
}

const forged = 'PROXY TCP4 10.1.2.3 10.0.0.1 5555 80\r\n';

test('proxy.pxytrust on an HTTP listener: an untrusted peer cannot forge the client address', async (t) => {
  const { backend, echo, proxy } = await import('./http/harness.ts');
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s /open ${be.url}/\nroute add s /secret ${be.url}/ opts "allow=ip:10.0.0.0/8"`, {
    'proxy.addr': '127.0.0.1:0;pxyproto=true',
    'proxy.pxytrust': '10.0.0.0/8',
  });
  // the forged header: closed before any request is read, one log line
  assert.equal(await rawHttp(p.port, forged, '/secret'), '');
  assert.equal(await rawHttp(p.port, forged, '/open'), '');
  assert.deepEqual(
    p.log.lines.filter((l) => l.includes('PROXY')),
    [
      '[INFO] http: PROXY header from untrusted peer 127.0.0.1, connection closed',
      '[INFO] http: PROXY header from untrusted peer 127.0.0.1, connection closed',
    ],
  );
  // the same peer without a header: its own address for the rules and the headers
  assert.match(await rawHttp(p.port, '', '/secret'), /^HTTP\/1\.1 403 /);
  const open = await rawHttp(p.port, '', '/open');
  assert.match(open, /^HTTP\/1\.1 200 /);
  const body = JSON.parse(open.slice(open.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
  assert.equal(body.headers['x-forwarded-for'], '127.0.0.1');
});

test('proxy.pxytrust on an HTTP listener: a trusted peer sets the client address', async (t) => {
  const { backend, echo, proxy } = await import('./http/harness.ts');
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s /secret ${be.url}/ opts "allow=ip:10.0.0.0/8"`, {
    'proxy.addr': '127.0.0.1:0;pxyproto=true',
    'proxy.pxytrust': '127.0.0.0/8,::1',
  });
  const out = await rawHttp(p.port, forged, '/secret');
  assert.match(out, /^HTTP\/1\.1 200 /);
  const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
  assert.equal(body.headers['x-forwarded-for'], '10.1.2.3');
});

test('proxy.pxytrust: an invalid CIDR is a config error naming the key (exit 1)', async () => {
  const { testConfig } = await import('../../src/config/index.ts');
  for (const bad of ['10.0.0.0/33', 'not-an-ip', '10.0.0.0/8, 1.2.3'])
    assert.throws(() => testConfig({ 'proxy.pxytrust': bad }), /invalid proxy\.pxytrust: /, bad);
  assert.doesNotThrow(() => testConfig({ 'proxy.pxytrust': ' 10.0.0.0/8 , 2001:db8::/32,127.0.0.1' }));
  const { startFabio } = await import('../helpers/proc.ts');
  const f = startFabio(['-proxy.pxytrust', '10.0.0.0/99']);
  assert.equal(await f.exited, 1);
  assert.ok(
    [...f.stdout, ...f.stderr].some((l) => l.includes('proxy.pxytrust')),
    [...f.stdout, ...f.stderr].join('\n'),
  );
});

test('parsePeerTrust: CIDRs and addresses, IPv4 and IPv6, empty = every peer', () => {
  assert.equal(parsePeerTrust(''), undefined);
  assert.equal(parsePeerTrust(' , '), undefined);
  const trusted = parsePeerTrust('10.0.0.0/8, ::1 ,2001:db8::/32,192.168.1.7');
  assert.ok(trusted !== undefined);
  const cases: [string, boolean][] = [
    ['10.9.9.9', true],
    ['11.0.0.1', false],
    ['::ffff:10.1.1.1', true],
    ['::1', true],
    ['::2', false],
    ['2001:db8::5', true],
    ['2001:db9::5', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['127.0.0.1', false],
    ['', false],
  ];
  for (const [ip, want] of cases) assert.equal(trusted(ip), want, ip);
  assert.throws(() => parsePeerTrust('10.0.0.0/33'), /failed to parse CIDR 10\.0\.0\.0\/33/);
});
