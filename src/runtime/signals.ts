import type { Logger } from '../log/logger.ts';

/**
 * fabio's signal handling: SIGINT/SIGTERM run the shutdown once and exit 0 (`[INFO] Down`);
 * SIGHUP is ignored with fabio's log line. A second signal during shutdown exits at once.
 */
export function installSignals(log: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const stop = (name: string) => {
    if (stopping) {
      log.warn(`Caught ${name} again. Exiting now`);
      log.flush();
      process.exit(1);
    }
    stopping = true;
    log.info(`Caught ${name}. Exiting`);
    shutdown()
      .catch((err: unknown) => log.error(`shutdown: ${String(err)}`))
      .finally(() => {
        log.info('Down');
        log.flush();
        process.exit(0);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => log.info('Caught SIGHUP. Ignoring'));
}
