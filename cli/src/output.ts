/**
 * Where a command writes: `out` for results (stdout), `err` for diagnostics (stderr). Commands
 * take an Output instead of touching `process` so they can be driven in-process.
 */
export interface Output {
  /** Machine-readable mode (`--json`): one JSON object per line on `out`. */
  readonly json: boolean;
  /** True when `out` is an interactive terminal (live progress is possible). */
  readonly interactive: boolean;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Writes one line (a newline is added) to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** Writes `value` as one JSON line to stdout. */
  jsonLine(value: unknown): void;
}

/**
 * The process's stdout/stderr as an {@link Output}; `interactive` = stdout is a TTY at least 40
 * columns wide, TERM is not `dumb`, CI is unset and not `--json`.
 */
export function processOutput(json: boolean): Output {
  const stdout = process.stdout;
  const stderr = process.stderr;
  return {
    json,
    // A pseudo-terminal without a size (columns 0) would wrap every character: use plain lines there.
    interactive: !json && stdout.isTTY === true && (stdout.columns ?? 0) >= 40 && process.env.TERM !== "dumb" && !process.env.CI,
    stdout,
    stderr,
    out: (line) => void stdout.write(`${line}\n`),
    err: (line) => void stderr.write(`${line}\n`),
    jsonLine: (value) => void stdout.write(`${JSON.stringify(value)}\n`),
  };
}
