import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/**
 * The first port the kernel hands out for `listen(0)` and outgoing connections (Linux's
 * ip_local_port_range), or 0 where that cannot be read.
 */
const EPHEMERAL_FIRST = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
})();
const LOW_FIRST = 10_000;

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.on('error', () => resolve(undefined));
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      const got = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A port that was free a moment ago, for child processes that must be told a port and for "a port
 * nothing listens on". It is taken below the kernel's ephemeral range, so the `listen(0)` servers
 * and outgoing connections of the test files running in parallel never land on it between this
 * check and its use (a port picked by `listen(0)` and closed was once re-bound by another file's
 * server, which then received this file's connections).
 */
export async function freePort(): Promise<number> {
  if (EPHEMERAL_FIRST > LOW_FIRST + 1000) {
    for (let i = 0; i < 50; i++) {
      const got = await listenOnce(LOW_FIRST + Math.floor(Math.random() * (EPHEMERAL_FIRST - LOW_FIRST)));
      if (got) return got;
    }
  }
  const got = await listenOnce(0);
  if (!got) throw new Error('freePort: no port');
  return got;
}

export interface Fabio {
  readonly proc: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first line (stdout or stderr) matching re; rejects after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number, stream?: 'stdout' | 'stderr'): Promise<string>;
  /** SIGTERM and wait for exit; resolves with the exit code (null when it had to be killed). Assert it. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
  /** Clean-up after a test that asserted the exit itself: SIGKILL if still running. */
  kill(): void;
}

/** Starts `fabio-ts <args>` from the sources (tsx), like `npm start` does from dist. */
export function startFabio(args: string[], env: Record<string, string> = {}): Fabio {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ re: RegExp; stream?: string; resolve: (l: string) => void }>();
  const feed = (stream: 'stdout' | 'stderr', store: string[]) => {
    let buf = '';
    proc[stream]?.setEncoding('utf8');
    proc[stream]?.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        store.push(line);
        if (process.env.E2E_VERBOSE) process.stderr.write(`[fabio ${stream}] ${line}\n`);
        for (const w of waiters) {
          if ((!w.stream || w.stream === stream) && w.re.test(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    });
  };
  feed('stdout', stdout);
  feed('stderr', stderr);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    stdout,
    stderr,
    exited,
    waitFor(re, timeoutMs = 15000, stream) {
      const seen = (stream === 'stdout' ? stdout : stream === 'stderr' ? stderr : [...stderr, ...stdout]).find((l) =>
        re.test(l),
      );
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { re, stream, resolve };
        waiters.add(w);
        const t = setTimeout(() => {
          waiters.delete(w);
          reject(
            new Error(
              `timeout waiting for ${re}\n--- stderr:\n${stderr.join('\n')}\n--- stdout:\n${stdout.join('\n')}`,
            ),
          );
        }, timeoutMs);
        exited.then(() => {
          if (waiters.has(w)) {
            clearTimeout(t);
            waiters.delete(w);
            reject(new Error(`fabio-ts exited while waiting for ${re}\n--- stderr:\n${stderr.join('\n')}`));
          }
        });
        const orig = w.resolve;
        w.resolve = (l) => {
          clearTimeout(t);
          orig(l);
        };
      });
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Polls fn until it returns a truthy value or the deadline passes. */
export async function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10000,
  stepMs = 25,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Pids of live processes whose command line contains arg (Linux /proc; [] elsewhere): finds the
 * workers of a fabio-ts process by a unique flag value even after the primary is gone.
 */
export function processesWith(arg: string): number[] {
  if (process.platform !== 'linux') return [];
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (argv.includes(arg) && !/\) Z /.test(stat)) found.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Whether pid is a fabio-ts worker process (its environment carries the cluster worker mark; Linux). */
export function isWorkerProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('FABIO_TS_WORKER=1');
  } catch {
    return false;
  }
}

/** Child pids of pid (Linux). */
export function childrenOf(pid: number | undefined): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Lines of output that are not the application log's own: stack frames, raw Node errors, EPIPE. */
export function strayErrors(lines: readonly string[]): string[] {
  return lines.filter((l) => /EPIPE|^\s+at |^\w*Error\b|Unhandled|ERR_IPC/.test(l));
}

/** The last lines of a process's output, for assertion messages. */
export function tail(f: Fabio, n = 15): string {
  return `--- last output lines:\n${[...f.stderr, ...f.stdout]
    .filter((l) => !/^\s/.test(l))
    .slice(-n)
    .join('\n')}`;
}
