import pino from 'pino';

/**
 * The application log in fabio's text format: `YYYY/MM/DD HH:MM:SS [LEVEL] message` (local time),
 * written to stderr through pino's asynchronous destination (SonicBoom), so logging never blocks
 * the hot path on a slow terminal. Level filtering is a number compare; callers on the hot path
 * check `enabled(LEVEL)` before building a message.
 */

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type Level = (typeof LEVELS)[number];

export interface Logger {
  trace(msg: string): void;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  fatal(msg: string): void;
  enabled(level: Level): boolean;
  readonly level: Level;
  /** Flush pending output (before exit). */
  flush(): void;
  /**
   * Resolves once every line logged so far has been written, in order; later lines are dropped.
   * The last call before process.exit: flush() writes synchronously past a write still in flight,
   * so the final lines of a shutdown could come out before earlier ones.
   */
  close?(): Promise<void>;
}

export interface Sink {
  write(s: string): void;
  flushSync?(): void;
  /** SonicBoom: finish the writes in flight and pending, then emit 'close' (fd 1 and 2 stay open). */
  end?(): void;
  once?(event: 'close', fn: () => void): unknown;
}

const pad = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `YYYY/MM/DD HH:MM:SS` in local time, as Go's log package prints it. */
function logTimestamp(d: Date): string {
  return `${d.getFullYear()}/${pad(d.getMonth() + 1)}/${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function parseLevel(s: string): Level | undefined {
  const u = s.trim().toUpperCase();
  return (LEVELS as readonly string[]).includes(u) ? (u as Level) : undefined;
}

/** An asynchronous writer on a file descriptor (1 = stdout, 2 = stderr). */
export function fdSink(fd: number, sync = false): Sink {
  return pino.destination({ dest: fd, sync, minLength: 0 });
}

export function createLogger(level: Level, sink: Sink = fdSink(2), now: () => Date = () => new Date()): Logger {
  const min = LEVELS.indexOf(level);
  let closed = false;
  const line = (lv: Level, msg: string) => {
    if (closed || LEVELS.indexOf(lv) < min) return;
    sink.write(`${logTimestamp(now())} [${lv}] ${msg}\n`);
  };
  return {
    level,
    trace: (m) => line('TRACE', m),
    debug: (m) => line('DEBUG', m),
    info: (m) => line('INFO', m),
    warn: (m) => line('WARN', m),
    error: (m) => line('ERROR', m),
    fatal: (m) => line('FATAL', m),
    enabled: (lv) => LEVELS.indexOf(lv) >= min,
    flush: () => {
      if (!closed) sink.flushSync?.();
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        if (!sink.end || !sink.once) {
          sink.flushSync?.();
          return resolve();
        }
        sink.once('close', resolve);
        sink.end();
      }),
  };
}

/** A logger that collects lines in memory (tests). */
export function memoryLogger(level: Level = 'TRACE'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger(level, { write: (s) => lines.push(s.replace(/^\S+ \S+ /, '').replace(/\n$/, '')) });
  return Object.assign(log, { lines });
}
