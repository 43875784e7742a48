import type { Logger } from '../log/logger.ts';

/** How the process ends: a signal drains gracefully (exit 0), a fatal error closes at once (exit 1). */
export type StopMode = 'signal' | 'fatal';

/** The one owner of "the process is ending" (installed before anything else starts). */
export interface Lifecycle {
  /** True from the first SIGINT/SIGTERM or fatal error on: start-up steps check it after each await. */
  readonly stopping: boolean;
  /** Logs `[FATAL] msg`, runs the shutdown without draining, exits 1. */
  fatal(msg: string): void;
}

export interface LifecycleOptions {
  /** Stops whatever has been started so far (mode 'fatal': no grace period, no drain). */
  shutdown(mode: StopMode): Promise<void>;
  /** A fatal shutdown that hangs is cut off after this many ms (a stuck close must not keep a broken process). */
  fatalDeadlineMs?: number;
  exit?: (code: number) => void;
}

/**
 * fabio's signal handling (reference section (i)): SIGINT/SIGTERM log `Caught SIGTERM. Exiting`,
 * run the shutdown once, log `Down` and exit 0; SIGHUP is ignored with fabio's line. A second
 * SIGINT/SIGTERM during the shutdown exits at once (status 1). The handlers are installed before the
 * registry is contacted, so a signal while waiting for Consul, while workers fork or while serving
 * all take the same path, and a fatal start-up error (a listener that cannot bind) ends the process
 * through it too (fabio's exit.Fatal runs the same handlers).
 */
export function installLifecycle(log: Logger, o: LifecycleOptions): Lifecycle {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  let ending = false;
  const end = (code: number) => {
    if (ending) return;
    ending = true;
    // every line out, in order, before the exit; a blocked stderr must not keep the process alive
    const done = () => exit(code);
    setTimeout(done, 1000);
    (log.close?.() ?? Promise.resolve()).then(done, done);
  };
  const onStop = (name: string) => {
    if (stopping) {
      log.warn(`Caught ${name} again. Exiting now`);
      return end(1);
    }
    stopping = true;
    log.info(`Caught ${name}. Exiting`);
    o.shutdown('signal')
      .catch((err: unknown) => log.error(`shutdown: ${String(err)}`))
      .finally(() => {
        log.info('Down');
        end(0);
      });
  };
  const onSigint = () => onStop('SIGINT');
  const onSigterm = () => onStop('SIGTERM');
  const onSighup = () => log.info('Caught SIGHUP. Ignoring');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
  return {
    get stopping() {
      return stopping;
    },
    fatal(msg) {
      log.fatal(msg);
      if (stopping) return end(1);
      stopping = true;
      const cut = setTimeout(() => end(1), o.fatalDeadlineMs ?? 5000);
      o.shutdown('fatal')
        .catch((err: unknown) => log.error(`shutdown: ${String(err)}`))
        .finally(() => {
          clearTimeout(cut);
          end(1);
        });
    },
  };
}
