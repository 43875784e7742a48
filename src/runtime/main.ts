import { runRouteTool } from '../cli/route-tools.ts';
import { CFG_TEXT_ENV, ConfigError, loadConfigAsync } from '../config/index.ts';
import type { Config } from '../config/types.ts';
import { createLogger, parseLevel } from '../log/logger.ts';
import { isWorker, runWorker } from './cluster.ts';
import { serve } from './serve.ts';

/**
 * Entry point of `fabio-ts`. Returns an exit code for commands that end (route tools, -v, config
 * errors), or undefined while the proxy serves (the signal handlers end the process).
 */
export async function main(argv: string[]): Promise<number | undefined> {
  if (isWorker()) return runWorker();
  if (argv[0] === 'route') {
    return runRouteTool(argv.slice(1), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  }
  let cfg: Config;
  try {
    cfg = await loadConfigAsync(argv, process.env, {
      // -cfg http(s)://...: the body is fetched once; worker processes inherit it through the environment
      onCfgText: (text) => {
        process.env[CFG_TEXT_ENV] = text;
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      if (err.stdout) process.stdout.write(err.stdout);
      if (err.message) process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  const log = createLogger(parseLevel(cfg.str('log.level')) ?? 'INFO');
  // serve() installs the signal handlers first, then writes the version line (which may ask git for
  // the commit: a child process, so a signal must already find its handler)
  return serve(cfg, log);
}
