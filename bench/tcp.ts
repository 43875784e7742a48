/**
 * TCP data-plane micro benchmark: bulk throughput and new connections per second through
 *   fabio-ts  (bench/tcp-proxy-standalone.ts, the real listeners),
 *   pipe      (a bare proxy: socket.pipe both ways),
 *   pipeline  (a bare proxy: stream.pipeline both ways),
 * each proxy in its own child process (pinned to CPU 1 with taskset when available), clients and
 * backends in this process. Used to choose the splice primitive and to see what routing costs.
 * Besides rates it reports the proxy's own CPU per GB and per connection (from /proc), which stay
 * comparable when other work shares the machine.
 *
 *   npx tsx bench/tcp.ts [seconds=3] [concurrency=32]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

if (process.argv[2] === '--bare') {
  // child: a bare proxy  listen → target, using pipe or pipeline
  const [, , , mode, listen, target] = process.argv;
  net
    .createServer({ allowHalfOpen: true, noDelay: true }, (c) => {
      const u = net.connect({ port: Number(target), host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
      if (mode === 'pipe') {
        c.pipe(u);
        u.pipe(c);
      } else {
        pipeline(c, u, () => {});
        pipeline(u, c, () => {});
      }
    })
    .listen(Number(listen), '127.0.0.1');
} else {
  await main();
}

async function main() {
  const secs = Number(process.argv[2] ?? 3);
  const conc = Number(process.argv[3] ?? 32);
  const sinkPort = await listen(sink());
  const okPort = await listen(okServer());
  const taskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
  const rows: string[][] = [['proxy', 'bulk MB/s', 'cpu ms/GB', 'conn/s', 'cpu us/conn']];
  const variants: [string, (bulkPort: number, connPort: number) => string[][]][] = [
    [
      'fabio-ts',
      (b, c) => [
        [
          process.execPath,
          '--import',
          'tsx',
          `${here}tcp-proxy-standalone.ts`,
          `127.0.0.1:${b};proto=tcp,127.0.0.1:${c};proto=tcp`,
          `route add a :${b} tcp://127.0.0.1:${sinkPort}\nroute add b :${c} tcp://127.0.0.1:${okPort}`,
        ],
      ],
    ],
    [
      'pipe',
      (b, c) => [
        [process.execPath, `${here}tcp.ts`, '--bare', 'pipe', String(b), String(sinkPort)],
        [process.execPath, `${here}tcp.ts`, '--bare', 'pipe', String(c), String(okPort)],
      ],
    ],
    [
      'pipeline',
      (b, c) => [
        [process.execPath, `${here}tcp.ts`, '--bare', 'pipeline', String(b), String(sinkPort)],
        [process.execPath, `${here}tcp.ts`, '--bare', 'pipeline', String(c), String(okPort)],
      ],
    ],
  ];
  const d1 = await bulk(sinkPort, secs);
  const d2 = await conns(okPort, secs, conc);
  rows.push(['direct', d1.mbps.toFixed(0), '-', d2.rate.toFixed(0), '-']);
  for (const [name, cmds] of variants) {
    const b = await freePort();
    const c = await freePort();
    const kids: ChildProcess[] = cmds(b, c).map((argv) =>
      spawn(taskset ? 'taskset' : argv[0]!, taskset ? ['-c', '1', ...argv] : argv.slice(1), {
        stdio: 'ignore',
        env: { ...process.env, NODE_OPTIONS: name === 'fabio-ts' ? '' : '--import tsx' },
      }),
    );
    await waitPort(b);
    await waitPort(c);
    // CPU of the proxy process(es) per unit of work: robust against other load on the machine
    const cpu0 = kids.reduce((a, k) => a + cpuMs(k.pid!), 0);
    const r1 = await bulk(b, secs);
    const cpu1 = kids.reduce((a, k) => a + cpuMs(k.pid!), 0);
    const r2 = await conns(c, secs, conc);
    const cpu2 = kids.reduce((a, k) => a + cpuMs(k.pid!), 0);
    rows.push([
      name,
      r1.mbps.toFixed(0),
      ((cpu1 - cpu0) / (r1.bytes / 1e9)).toFixed(0),
      r2.rate.toFixed(0),
      (((cpu2 - cpu1) * 1000) / r2.n).toFixed(0),
    ]);
    for (const k of kids) k.kill();
  }
  for (const r of rows) console.log(r.map((x, i) => (i === 0 ? x.padEnd(10) : x.padStart(12))).join(''));
  process.exit(0);
}

/** utime+stime of a process in ms (Linux /proc; clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

function sink() {
  return net.createServer((s) => {
    s.on('error', () => {});
    s.resume();
    s.on('end', () => s.end());
  });
}

function okServer() {
  return net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
  });
}

function listen(s: net.Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), r(true)));
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

/** One connection writing 64 KiB chunks for `secs`; MB/s acknowledged by the sink's close. */
function bulk(port: number, secs: number): Promise<{ mbps: number; bytes: number }> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let sent = 0;
    const t0 = process.hrtime.bigint();
    const end = Date.now() + secs * 1000;
    const pump = () => {
      while (Date.now() < end) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.on('connect', pump);
    s.resume();
    s.on('close', () => resolve({ mbps: sent / 1e6 / (Number(process.hrtime.bigint() - t0) / 1e9), bytes: sent }));
  });
}

/** `conc` loops of connect, request, read reply, close, for `secs`; connections per second. */
async function conns(port: number, secs: number, conc: number): Promise<{ rate: number; n: number }> {
  let n = 0;
  const end = Date.now() + secs * 1000;
  const t0 = Date.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () =>
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      );
      s.on('error', () => {});
      s.resume();
      s.on('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (Date.now() < end) {
        await one();
        n++;
      }
    }),
  );
  return { rate: n / ((Date.now() - t0) / 1000), n };
}
