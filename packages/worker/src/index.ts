/** @baton/worker — the worker agent runtime shared by the research, code and data agents. */
export { WorkerEnv } from "./config.ts";
export { runStepToolCalls, type StepRun } from "./run-step.ts";
export { runWorkerService, type WorkerServiceOptions } from "./worker-service.ts";
export * from "./agent-loop/index.ts";
