import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { startSniListener, startTcpListener } from '../../../src/proxy/tcp/index.ts';
import { rawTcpFromEnv } from '../../../src/proxy/tcp/raw-handle.ts';
import { relayStats } from '../../../src/proxy/tcp/relay.ts';
import { helloWithSni } from './hello-capture.ts';
import { fakeTable, inMode, makeDeps, spec, until } from './helpers.ts';

/**
 * proxy.lingertimeout: once one side of a spliced connection has ended, the other side gets at
 * most the linger, then both sockets are closed (issue: abandoned connections against an upstream
 * that never closes held two descriptors each, forever, until the process hit its limit).
 */

const modes = rawTcpFromEnv(process.env) !== undefined ? (['raw', 'net'] as const) : (['net'] as const);

/** Descriptors open in this process (the proxy runs in-process; the upstream does not). */
const fds = () => readdirSync('/proc/self/fd').length;

/**
 * An upstream in a child process that accepts, reads and never closes or answers (so its sockets
 * do not count in this process' descriptors). Resolves with its port.
 */
async function neverClosingUpstream(t: import('node:test').TestContext): Promise<number> {
  const src = `const net=require('node:net');const s=net.createServer({allowHalfOpen:true},c=>{c.on('error',()=>{});c.resume();});s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => reject(new Error(`upstream exited ${c}`)));
    child.stdout?.setEncoding('utf8');
    let buf = '';
    child.stdout?.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) resolve(Number(buf.trim()));
    });
  });
}

async function listener(t: import('node:test').TestContext, mode: 'raw' | 'net', lingerMs: number) {
  const env = makeDeps(undefined, { 'proxy.lingertimeout': lingerMs });
  const l = await startTcpListener(spec(), inMode(env.deps, mode));
  t.after(() => l.close(0));
  return { ...env, l };
}

/** A client that sends one byte, half-closes and leaves (its socket is closed once the FIN is out). */
function abandon(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('x'));
    s.on('error', () => {});
    s.on('finish', () => s.destroy());
    s.on('close', () => resolve());
  });
}

for (const mode of modes) {
  test(`tcp linger (${mode}): 2,000 abandoned connections against an upstream that never closes give their descriptors back`, async (t) => {
    const N = 2000;
    const linger = 1000;
    const upPort = await neverClosingUpstream(t);
    const { l, store, metrics } = await listener(t, mode, linger);
    const raw0 = relayStats.raw;
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${upPort}` }] }));
    const base = fds();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        await abandon(l.port);
      }
    };
    await Promise.all(Array.from({ length: 100 }, worker));
    // every connection reached the upstream and ended (rx/tx are reported when both sockets closed)
    await until(() => metrics.bytes.length === N, linger + 30_000);
    assert.equal(metrics.counts['tcp.conn'], N);
    assert.equal(metrics.counts['tcp.connfail'], undefined);
    assert.ok(metrics.bytes.every((b) => b.tx === 1));
    await until(() => fds() <= base + 5, 30_000);
    assert.equal(relayStats.raw - raw0, mode === 'raw' ? N : 0, 'the splice under test handled the connections');
  });

  test(`tcp linger (${mode}): half-close still works within the linger (client FIN, upstream answers, closes)`, async (t) => {
    const reply = Buffer.alloc(1_000_000, 5);
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      const got: Buffer[] = [];
      s.on('data', (d) => got.push(d));
      s.on('end', () => {
        s.write(Buffer.concat(got));
        s.end(reply);
      });
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    t.after(() => up.close());
    const { l, store } = await listener(t, mode, 5000);
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('ping'));
      s.on('data', (d) => chunks.push(d));
      s.on('error', reject);
      s.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.equal(got.length, 4 + reply.length);
    assert.equal(got.subarray(0, 4).toString(), 'ping');
  });

  test(`tcp linger (${mode}): linger 0 closes both sides as soon as one ended (as fabio)`, async (t) => {
    let upSock: net.Socket | undefined;
    let upEnded = false;
    let upClosed = false;
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      upSock = s;
      s.on('error', () => {});
      s.on('end', () => (upEnded = true));
      s.on('close', () => (upClosed = true));
      s.resume();
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    t.after(() => {
      upSock?.destroy();
      up.close();
    });
    const { l, store, metrics } = await listener(t, mode, 0);
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
    let clientEnded = false;
    const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('bye'));
    s.on('error', () => {});
    s.on('end', () => (clientEnded = true));
    s.resume();
    t.after(() => s.destroy());
    // the upstream never closes: the proxy must close both sides by itself
    await until(() => upEnded && clientEnded && metrics.bytes.length === 1, 10_000);
    assert.equal(upClosed, false, 'the upstream itself did not close');
    assert.equal(metrics.bytes[0]!.tx, 3);
  });

  for (const side of ['client', 'upstream'] as const)
    test(`tcp linger (${mode}): a reset from the ${side} resets the other side at once`, async (t) => {
      let upSock: net.Socket | undefined;
      let upErr: NodeJS.ErrnoException | undefined;
      let upDone = false;
      const up = net.createServer({ allowHalfOpen: true }, (s) => {
        upSock = s;
        s.on('error', (e) => (upErr = e));
        s.on('end', () => (upDone = true));
        s.on('close', () => (upDone = true));
        s.on('data', () => s.write('pong'));
      });
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      t.after(() => {
        upSock?.destroy();
        up.close();
      });
      const { l, store } = await listener(t, mode, 60_000);
      store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
      let clientErr: NodeJS.ErrnoException | undefined;
      let clientDone = false;
      const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.write('ping'));
      s.on('error', (e) => (clientErr = e));
      s.on('end', () => (clientDone = true));
      s.on('close', () => (clientDone = true));
      t.after(() => s.destroy());
      await new Promise((r) => s.once('data', r)); // both legs are up
      if (side === 'client') {
        s.resetAndDestroy();
        await until(() => upDone, 10_000);
        assert.equal(upErr?.code, 'ECONNRESET');
      } else {
        upSock!.resetAndDestroy();
        await until(() => clientDone, 10_000);
        assert.equal(clientErr?.code, 'ECONNRESET');
      }
    });
}

for (const mode of modes)
  test(`tcp linger (${mode}): a client that sent its FIN to a slow upstream does not pin both sockets`, async (t) => {
    // the upstream never reads: the proxy has read the client's bytes and FIN, but its writes and
    // FIN to the upstream stay queued (CLOSE-WAIT on the client side, FIN-WAIT-1 upstream). A
    // client whose own FIN is still behind unread bytes has not ended yet: that is wt/it's case.
    let upDone = false;
    const upSocks: net.Socket[] = [];
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      upSocks.push(s);
      s.pause();
      s.on('error', () => (upDone = true));
      s.on('close', () => (upDone = true));
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of upSocks) s.destroy();
      up.close();
    });
    const { l, store, metrics } = await listener(t, mode, 300);
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
    const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    t.after(() => s.destroy());
    const size = 512 * 1024; // small enough for the socket buffers: the proxy reads the client's FIN
    s.end(Buffer.alloc(size, 1));
    await until(() => metrics.bytes.length === 1, 30_000);
    // the proxy closed its upstream socket: the upstream sees it once it reads (a reset or a FIN)
    upSocks[0]?.resume();
    await until(() => upDone || upSocks[0]?.readableEnded === true, 30_000);
    assert.equal(metrics.bytes[0]!.tx, size);
  });

for (const mode of modes)
  test(`tcp+sni linger (${mode}): abandoned SNI connections against an upstream that never closes give their descriptors back`, async (t) => {
    const N = 300;
    const upPort = await neverClosingUpstream(t);
    const env = makeDeps(fakeTable({ 'a.test': [{ url: `tcp://127.0.0.1:${upPort}` }] }), {
      'proxy.lingertimeout': 500,
    });
    const l = await startSniListener(spec({ proto: 'tcp+sni' }), inMode(env.deps, mode));
    t.after(() => l.close(0));
    const hello = helloWithSni('a.test');
    const base = fds();
    for (let i = 0; i < N; i += 50)
      await Promise.all(
        Array.from(
          { length: 50 },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(hello));
              s.on('error', () => {});
              s.on('finish', () => s.destroy());
              s.on('close', () => resolve());
            }),
        ),
      );
    await until(() => env.metrics.bytes.length === N, 30_000);
    assert.ok(env.metrics.bytes.every((b) => b.tx === hello.length));
    await until(() => fds() <= base + 5, 30_000);
  });

for (const mode of modes)
  test(`tcp linger (${mode}): a FIN without data (sent while the upstream is dialled) is passed on and bounded`, async (t) => {
    let ends = 0;
    const socks: net.Socket[] = [];
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      socks.push(s);
      s.on('error', () => {});
      s.on('end', () => ends++);
      s.resume();
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of socks) s.destroy();
      up.close();
    });
    const { l, store, metrics } = await listener(t, mode, 300);
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
    await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end());
            s.on('error', () => {});
            s.on('finish', () => s.destroy());
            s.on('close', () => resolve());
          }),
      ),
    );
    await until(() => metrics.bytes.length === 20 && ends === 20, 30_000);
  });

for (const mode of modes)
  test(`tcp linger (${mode}): an upstream FIN to a client that never ends is bounded too`, async (t) => {
    const up = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.end('bye'); // answers and half-closes, then waits for the client's FIN that never comes
      s.resume();
    });
    const socks: net.Socket[] = [];
    up.on('connection', (s) => socks.push(s));
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of socks) s.destroy();
      up.close();
    });
    const { l, store, metrics } = await listener(t, mode, 300);
    store.swap(fakeTable({ [`:${l.port}`]: [{ url: `tcp://127.0.0.1:${(up.address() as net.AddressInfo).port}` }] }));
    let got = '';
    let ended = false;
    const s = net.connect({ port: l.port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => {});
    s.on('data', (d) => (got += d));
    s.on('end', () => (ended = true)); // and never ends its own side
    t.after(() => s.destroy());
    await until(() => ended && metrics.bytes.length === 1, 30_000);
    assert.equal(got, 'bye');
    assert.equal(metrics.bytes[0]!.rx, 3);
  });
