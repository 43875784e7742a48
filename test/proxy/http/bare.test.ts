import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { bareStats } from '../../../src/proxy/http/bare-conn.ts';
import { bareHttp } from '../../../src/proxy/http/bare-parser.ts';
import { bareHttpExemption } from '../../helpers/support.ts';
import { backend, echo, get, proxy, until } from './harness.ts';

/**
 * The client side of plain HTTP listeners on bare handles (src/proxy/http/bare-conn.ts): that it is
 * there and used, and the connection-level behaviour it re-implements (pipelining, hand-over to
 * node:http mid-connection, head timeout, keep-alive idle close, head size limit, graceful close),
 * each case through both client sides so node:http is the reference.
 */

const CLIENTS = [
  { name: 'bare', bare: true },
  { name: 'node:http', bare: false },
] as const;

test('bare-handle HTTP client side is available on a supported Node (Linux, Node 20/22)', {
  skip: bareHttpExemption ?? false,
}, async (t) => {
  assert.notEqual(bareHttp, undefined, `bare-parser.ts feature detection found nothing on Node ${process.version}`);
  const be = await backend(t, echo);
  const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: true });
  const before = { ...bareStats };
  assert.equal((await get(p.port, '/a')).status, 200);
  assert.equal(bareStats.accepted, before.accepted + 1, 'the GET was accepted on a bare handle');
  assert.equal(bareStats.handedOver, before.handedOver, 'and served there');
  const r = await get(p.port, '/b', { 'content-type': 'text/plain' }, 'POST', 'hello');
  assert.equal(r.json().bodyLength, 5);
  assert.equal(bareStats.handedOver, before.handedOver + 1, 'a request with a body goes to node:http');
});

/** A client that writes raw bytes and reads answers on one connection. */
async function rawClient(port: number): Promise<{ s: Socket; text: () => string; closed: Promise<unknown> }> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  let out = '';
  s.on('data', (d: Buffer) => {
    out += d.toString('latin1');
  });
  const closed = once(s, 'close');
  await once(s, 'connect');
  return { s, text: () => out, closed };
}

const answers = (text: string) => (text.match(/HTTP\/1\.1 \d{3} [^\r]*/g) ?? []).map((l) => l.slice(9));

for (const c of CLIENTS) {
  test(`${c.name}: pipelined GET, GET, POST with a body, GET in one write are answered in order`, async (t) => {
    const seen: string[] = [];
    const be = await backend(t, (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${n}`);
        res.end(`${req.url}|`);
      });
    });
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.write(
      'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n' +
        'POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    await cl.closed;
    assert.deepEqual(answers(cl.text()), ['200 OK', '200 OK', '200 OK', '200 OK'], cl.text());
    assert.deepEqual(cl.text().match(/\/\d\|/g), ['/1|', '/2|', '/3|', '/4|']);
    // Answers keep the order; the upstream requests of pipelined ones may overlap (node:http too).
    assert.deepEqual(seen.sort(), ['GET /1 0', 'GET /2 0', 'GET /4 0', 'POST /3 5']);
  });

  test(`${c.name}: request heads split into single bytes are parsed (and handed over whole)`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    // A GET (served on the bare side), then a POST with a body (handed over to node:http with every
    // byte of its head, which arrived in many reads).
    const bytes =
      'GET /split?q=1 HTTP/1.1\r\nHost: a\r\nX-Long: abcdefghij\r\n\r\n' +
      'POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
    for (const ch of bytes) {
      cl.s.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await cl.closed;
    assert.deepEqual(answers(cl.text()), ['200 OK', '200 OK']);
    assert.match(cl.text(), /"url":"\/split\?q=1"/);
    assert.match(cl.text(), /"x-long":"abcdefghij"/);
    assert.match(cl.text(), /"method":"POST","url":"\/post"[\s\S]*"bodyLength":5/);
  });

  // The no-pause head (bare-conn.ts #noPause): a read that completes a head begun in an earlier
  // read must still pause after it, or the head that follows in the same read is parsed over it.
  test(`${c.name}: a head completed by a read that also carries the next whole head: both answered in order`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.setNoDelay(true);
    cl.s.write('GET /first HTTP/1.1\r\nHost: a\r\n\r');
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // a read of its own, as the split test
    cl.s.write('\nGET /second HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await cl.closed;
    assert.deepEqual(answers(cl.text()), ['200 OK', '200 OK'], cl.text());
    const urls = cl.text().match(/"url":"\/\w+"/g);
    assert.deepEqual(urls, ['"url":"/first"', '"url":"/second"']);
  });

  test(`${c.name}: a POST head that ends a read, its body in the next: handed over, body intact`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.setNoDelay(true);
    cl.s.write('POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setImmediate(r));
    cl.s.write('hello');
    await cl.closed;
    assert.deepEqual(answers(cl.text()), ['200 OK'], cl.text());
    assert.match(cl.text(), /"method":"POST","url":"\/p"[\s\S]*"bodyLength":5/);
  });

  test(`${c.name}: 2,000 pipelined requests answered by the proxy itself come back in order`, async (t) => {
    const p = await proxy(t, 'route add s a.test/ http://127.0.0.1:9/', {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    let bytes = '';
    for (let i = 0; i < 2000; i++) bytes += `GET /n${i} HTTP/1.1\r\nHost: none\r\n\r\n`;
    cl.s.write(`${bytes}GET /last HTTP/1.1\r\nHost: none\r\nConnection: close\r\n\r\n`);
    await cl.closed;
    const got = answers(cl.text());
    assert.equal(got.length, 2001);
    assert.ok(got.every((a) => a === '404 Not Found'));
    assert.equal(p.metrics.notFounds, 2001);
  });

  test(`${c.name}: a request head cut short by the client's FIN is answered 400`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.end('GET / HTTP/1.1\r\nHost: a\r\nX-Half: ');
    await cl.closed;
    assert.match(cl.text(), /^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  test(`${c.name}: a request head over the size limit is a 431 and reaches no upstream`, async (t) => {
    let hits = 0;
    const be = await backend(t, (req, res) => {
      hits++;
      echo(req, res);
    });
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    await cl.closed;
    assert.match(cl.text(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.equal(hits, 0);
  });

  test(`${c.name}: a request head not completed within rt is a 408 and the connection closes`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;rt=300ms' }, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.write('GET / HTTP/1.1\r\nHost: a\r\n');
    await cl.closed; // the proxy closes it (the test's own deadline bounds a failure)
    assert.match(cl.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  test(`${c.name}: an idle kept-alive connection is closed after it, silently`, async (t) => {
    const be = await backend(t, echo);
    const p = await proxy(t, `route add s / ${be.url}/`, { 'proxy.addr': '127.0.0.1:0;it=300ms' }, { bare: c.bare });
    const cl = await rawClient(p.port);
    cl.s.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => cl.text().includes('"url":"/"'));
    assert.match(cl.text(), /\r\nConnection: keep-alive\r\n/i);
    await cl.closed;
    assert.deepEqual(answers(cl.text()), ['200 OK'], 'nothing written at the idle close');
  });

  test(`${c.name}: shutdown lets the request in flight finish and closes idle connections at once`, async (t) => {
    let release!: () => void;
    const arrived = new Promise<void>((r) => {
      release = r;
    });
    let answer!: () => void;
    const be = await backend(t, (_req, res) => {
      answer = () => res.end('finished');
      release();
    });
    const p = await proxy(t, `route add s / ${be.url}/`, {}, { bare: c.bare });
    const idle = await rawClient(p.port);
    idle.s.write('GET /idle HTTP/1.1\r\nHost: a\r\n\r\n');
    await arrived;
    answer();
    await until(() => idle.text().includes('finished'));
    const busy = await rawClient(p.port);
    const served = new Promise<void>((r) => {
      release = r;
    });
    busy.s.write('GET /busy HTTP/1.1\r\nHost: a\r\n\r\n');
    await served;
    const closed = p.listener.close(3_000);
    await idle.closed; // closed at once, not after the grace period
    let done = false;
    void closed.then(() => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'close waits for the request in flight');
    answer();
    await busy.closed;
    await closed;
    assert.match(busy.text(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*finished$/);
  });
}
