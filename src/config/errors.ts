/**
 * Errors of the config loader. The message is the exact text fabio prints (main writes
 * `[FATAL] <message>` or the bare message and exits with `exitCode`).
 */
export class ConfigError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/**
 * Not an error: `-v` or `-h` was given. main prints `output` to stdout and exits with `exitCode` (0).
 * Thrown (rather than returned) so that loadConfig keeps its `Config` return type.
 */
export class ConfigExit extends Error {
  readonly exitCode = 0;
  readonly kind: 'version' | 'help';
  readonly output: string;
  constructor(kind: 'version' | 'help', output: string) {
    super(kind === 'version' ? 'version requested' : 'help requested');
    this.name = 'ConfigExit';
    this.kind = kind;
    this.output = output;
  }
}
