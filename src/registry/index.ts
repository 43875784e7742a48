import type { Config } from '../config/types.ts';
import type { Logger } from '../log/logger.ts';
import { ConsulBackend, consulBackendOptions } from './consul/backend.ts';
import { CustomBackend } from './custom-backend.ts';
import { FileBackend } from './file-backend.ts';
import { StaticBackend } from './static-backend.ts';
import type { RegistryBackend } from './types.ts';

export { ConsulBackend, consulBackendOptions } from './consul/backend.ts';
export { CustomBackend, routeDefsToText } from './custom-backend.ts';
export { FileBackend } from './file-backend.ts';
export { StaticBackend } from './static-backend.ts';

/**
 * The registry backend named by registry.backend. An unknown name throws
 * `Unknown registry backend <v>` (main prints it as `[FATAL] ...`, as fabio does).
 */
export function createBackend(cfg: Config, log: Logger): RegistryBackend {
  const name = cfg.str('registry.backend');
  switch (name) {
    case 'consul':
      return new ConsulBackend(consulBackendOptions(cfg), log);
    case 'static':
      return new StaticBackend(cfg.str('registry.static.routes'), cfg.str('registry.static.noroutehtml'));
    case 'file':
      return new FileBackend(
        {
          path: cfg.str('registry.file.path'),
          htmlPath: cfg.str('registry.file.noroutehtmlpath'),
          watch: cfg.bool('registry.file.watch'),
        },
        log,
      );
    case 'custom': {
      const q = cfg.str('registry.custom.queryparams');
      const url = `${cfg.str('registry.custom.scheme')}://${cfg.str('registry.custom.host')}/${cfg.str('registry.custom.path')}${q ? `?${q}` : ''}`;
      return new CustomBackend(
        {
          url,
          timeoutMs: cfg.num('registry.custom.timeout'),
          pollMs: cfg.num('registry.custom.pollinterval'),
          tlsSkipVerify: cfg.bool('registry.custom.checkTLSSkipVerify'),
          noRouteHtml: cfg.str('registry.custom.noroutehtml'),
        },
        log,
      );
    }
    default:
      throw new Error(`Unknown registry backend ${name}`);
  }
}
