/**
 * Exit codes of the `baton` CLI, in one place so scripts can rely on them:
 * - `ok` 0: success (task completed, submission published, stack stopped cleanly)
 * - `failed` 1: the task failed, or NATS / the stack could not be reached or started
 * - `invalid` 2: the submission is invalid (checked locally, or rejected by the supervisor), or bad usage
 * - `notFound` 3: `baton result` found no outcome for the task
 * - `timeout` 124: `baton run` / `baton watch` gave up waiting (like timeout(1))
 * - `interrupted` 130: stopped by Ctrl-C (SIGINT)
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  invalid: 2,
  notFound: 3,
  timeout: 124,
  interrupted: 130,
} as const;

/** One of the values of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
