/**
 * Limits of the QuickJS sandbox, shared by the host (which checks them) and the sandbox threads
 * (which apply them). No imports: a sandbox thread loads this file and QuickJS, nothing else.
 */

/**
 * Largest accepted QuickJS stack limit in bytes (256 KiB). At 512 KiB and above, or 0 (unlimited), deep JS
 * recursion overflows the host's native stack before QuickJS notices.
 */
export const MAX_STACK_BYTES = 256 * 1024;

/**
 * Most ms one `run_javascript` call may ask for (its `timeoutMs`, and `SANDBOX_TIMEOUT_MS`): 5,000. A plan step
 * holds at most 16 calls (the plan contract), so one step asks for at most 16 × (5,000 + the 1,000 ms
 * {@link HARD_STOP_GRACE_MS}) = 96,000 ms of one sandbox thread: under the default step limit plus half of it
 * (`STEP_TIMEOUT_MS` 60,000, which cuts the step earlier unless the plan raises it) and under a sixth of the
 * default task deadline (`TASK_TIMEOUT_MS` 600,000). A sandbox timeout is not retried, so a step is never
 * charged that bound more than once. The work lease (ack_wait, 5,000 by default) sets no bound: scripts run
 * off the agent's event loop, whose heartbeats go on.
 */
export const MAX_SCRIPT_TIMEOUT_MS = 5_000;

/**
 * How long after a script's time limit the host stops its thread, in ms (1,000). QuickJS's interrupt handler
 * stops a script at its limit and the thread is reused; only a script stuck inside a long built-in, which the
 * handler does not reach (e.g. `String(7n ** 1000000n)`), is still running by then, and its thread is
 * terminated and replaced.
 */
export const HARD_STOP_GRACE_MS = 1_000;

/** Defaults of {@link SandboxLimits}: 64 MiB heap, 256 KiB stack, 2,000 ms, 256 KiB result, 100 × 500-char logs. */
export const SANDBOX_DEFAULTS = {
  memoryLimitBytes: 64 * 1024 * 1024,
  maxStackBytes: MAX_STACK_BYTES,
  defaultTimeoutMs: 2_000,
  maxResultBytes: 256 * 1024,
  maxLogLines: 100,
  maxLogLineChars: 500,
} as const;

/** The limits every script of a sandbox runs under. */
export interface SandboxLimits {
  /** QuickJS heap limit per call in bytes (includes the parsed `inputs` and `data`). Default 64 MiB. */
  readonly memoryLimitBytes: number;
  /** QuickJS stack limit per call in bytes, 16 KiB..256 KiB. Default 256 KiB. */
  readonly maxStackBytes: number;
  /** Wall-clock limit of a call in ms when the request gives none, 1..600,000. Default 2,000. */
  readonly defaultTimeoutMs: number;
  /** Largest result, as UTF-8 bytes of its JSON. Default 256 KiB. */
  readonly maxResultBytes: number;
  /** Most `console.*` lines kept per call; the last kept line notes how many were dropped. Default 100. */
  readonly maxLogLines: number;
  /** Longest kept log line in chars; longer lines end in "…". Default 500. */
  readonly maxLogLineChars: number;
}

/**
 * Fills in {@link SANDBOX_DEFAULTS} and checks every limit.
 * @throws RangeError naming the first limit out of range, notably `maxStackBytes` above {@link MAX_STACK_BYTES}
 *   (0, which QuickJS reads as "unlimited", is refused too).
 */
export function resolveSandboxLimits(options: Partial<SandboxLimits> = {}): SandboxLimits {
  const d = SANDBOX_DEFAULTS;
  const limits: SandboxLimits = {
    memoryLimitBytes: options.memoryLimitBytes ?? d.memoryLimitBytes,
    maxStackBytes: options.maxStackBytes ?? d.maxStackBytes,
    defaultTimeoutMs: options.defaultTimeoutMs ?? d.defaultTimeoutMs,
    maxResultBytes: options.maxResultBytes ?? d.maxResultBytes,
    maxLogLines: options.maxLogLines ?? d.maxLogLines,
    maxLogLineChars: options.maxLogLineChars ?? d.maxLogLineChars,
  };
  checkLimit("memoryLimitBytes", limits.memoryLimitBytes, 1024 * 1024, 2 ** 31);
  checkLimit("maxStackBytes", limits.maxStackBytes, 16 * 1024, MAX_STACK_BYTES);
  checkLimit("defaultTimeoutMs", limits.defaultTimeoutMs, 1, 600_000);
  checkLimit("maxResultBytes", limits.maxResultBytes, 2, 2 ** 28);
  checkLimit("maxLogLines", limits.maxLogLines, 1, 100_000);
  checkLimit("maxLogLineChars", limits.maxLogLineChars, 1, 1_000_000);
  return Object.freeze(limits);
}

/** The message of a script stopped at its time limit, by QuickJS's interrupt handler or by the host stopping its thread. */
export function scriptTimeoutMessage(timeoutMs: number): string {
  return `script exceeded its ${timeoutMs} ms time limit`;
}

function checkLimit(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`sandbox ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}
