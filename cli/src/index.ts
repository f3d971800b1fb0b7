/**
 * @baton/cli — the `baton` command line, and the pieces other code (tests, scripts) may reuse:
 * the local stack launcher, task following and the progress model.
 */
export { CliError } from "./cli-error.ts";
export { type CliConnection, openConnection } from "./connection.ts";
export { EXIT, type ExitCode } from "./exit-codes.ts";
export { type FollowResult, type FollowTaskOptions, followTask, lastOutcome, type TaskFollower } from "./follow-task.ts";
export { createProgram, runCli } from "./program.ts";
export { type ExtraAgent, NATS_INSTALL_HINT, type ServiceName, type Stack, StackError, type StackOptions, startStack } from "./stack.ts";
export {
  defaultServices,
  discoverServices,
  READY_MESSAGES,
  type ServiceEntry,
  type ServiceManifest,
  type ServiceRole,
  serviceByName,
} from "./service-catalog.ts";
export { buildSubmission, type ResolvedSubmission, type SubmissionInput } from "./submission.ts";
export { isFinal, type Outcome, type StepRow, type StepRowStatus, type TaskPhase, TaskProgress } from "./task-progress.ts";
