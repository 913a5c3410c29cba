// The one table of error codes and exit codes. Only the CLI entry prints errors (one line); the
// service logs them as structured fields. The README's exit-code table is tested against EXIT_CODES.

export const EXIT_CODES = {
  ok: 0,
  /** A policy question answered "no": explain --exit-code denied, verify found breakage, diff found changes with --exit-code. */
  finding: 1,
  /** Bad command line or configuration. */
  usage: 2,
  /** Bad input: a malformed file (with --strict), an invalid manifest, an unreadable path. */
  input: 3,
  /** A live source could not be reached and retries were exhausted. */
  unreachable: 4,
  /** The database could not be opened, migrated or written. */
  store: 5,
  /** Nothing to do (e.g. the PR bot found no change). */
  nothing: 6,
  /** A bug in flowwright. */
  internal: 70,
} as const;

export type ErrorCode = keyof typeof EXIT_CODES;

/** Where in the input a problem is: file, line (or document index) and field path. */
export interface InputLocation {
  file?: string;
  line?: number;
  document?: number;
  field?: string;
}

export class FlowwrightError extends Error {
  readonly code: ErrorCode;
  readonly location?: InputLocation;
  /** For bad input: the kind of malformed record it is counted as (`invalid namespace name`, `record too large`). */
  readonly kind?: string;
  constructor(
    code: ErrorCode,
    message: string,
    location?: InputLocation,
    options?: { cause?: unknown; kind?: string },
  ) {
    super(message, options);
    this.name = 'FlowwrightError';
    this.code = code;
    this.location = location;
    if (options?.kind !== undefined) this.kind = options.kind;
  }
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** `file:line: field: message`, leaving out what is unknown. */
export function formatLocation(loc: InputLocation | undefined): string {
  if (!loc) return '';
  let s = loc.file ?? '';
  if (loc.line !== undefined) s += `${s ? ':' : 'line '}${loc.line}`;
  if (loc.document !== undefined) s += `${s ? ' ' : ''}document ${loc.document}`;
  if (loc.field) s += `${s ? ': ' : ''}${loc.field}`;
  return s;
}

export function inputError(message: string, location?: InputLocation): FlowwrightError {
  return new FlowwrightError('input', message, location);
}

export function usageError(message: string): FlowwrightError {
  return new FlowwrightError('usage', message);
}

/** One-line rendering for the CLI: `flowwright: flows.json:12: IP.source: not an IP address`. */
export function describeError(err: unknown): string {
  if (err instanceof FlowwrightError) {
    const where = formatLocation(err.location);
    return where ? `${where}: ${err.message}` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
