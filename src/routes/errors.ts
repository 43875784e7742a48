/**
 * A route text that cannot be parsed or built. The message is fabio's `line N: <reason>` form, so
 * callers can log it verbatim (`[WARN] line 3: syntax error: 'route' expected`).
 */
export class RouteSyntaxError extends Error {
  readonly code = 'ROUTE_SYNTAX';
  /** 1-based line number in the route text (blank and comment lines counted). */
  readonly line: number;
  /** The reason without the `line N: ` prefix. */
  readonly reason: string;

  constructor(line: number, reason: string, options?: { cause?: unknown }) {
    super(`line ${line}: ${reason}`, options);
    this.name = 'RouteSyntaxError';
    this.line = line;
    this.reason = reason;
  }
}
