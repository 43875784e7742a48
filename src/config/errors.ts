/**
 * Errors of the config loader. The message is the exact text fabio prints; main writes `stdout`
 * (if any) to stdout, the message (if any) to stderr, and exits with `exitCode`.
 */
export class ConfigError extends Error {
  readonly exitCode: number;
  /** Text for stdout ('' for real errors). */
  readonly stdout: string;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number; stdout?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.exitCode = options?.exitCode ?? 1;
    this.stdout = options?.stdout ?? '';
  }
}

/**
 * Not a failure: `-v` or `-h` was given; exit 0. A ConfigError subclass so one catch handles both.
 * version: `stdout` holds `<version> node<version>\n`, message ''.
 * help: the usage goes to stderr as Go's flag package prints it, so it is the message; stdout ''.
 * `output` holds the text either way.
 */
export class ConfigExit extends ConfigError {
  readonly kind: 'version' | 'help';
  readonly output: string;
  constructor(kind: 'version' | 'help', output: string) {
    super(kind === 'help' ? output.replace(/\n$/, '') : '', { exitCode: 0, stdout: kind === 'version' ? output : '' });
    this.name = 'ConfigExit';
    this.kind = kind;
    this.output = output;
  }
}
