/** @baton/supervisor — accepts tasks, keeps their state and dispatches their steps. */
export { SupervisorEnv } from "./config.ts";
export { runSupervisor } from "./supervisor.ts";
export { type DeadLetterHandler, startDeadLetterHandler } from "./dead-letters/index.ts";
export { type PlanResult, type PlanTaskOptions, planTask } from "./planner/index.ts";
export {
  type CardLookup,
  checkPlanAgainstCards,
  type PlanAgentProblem,
  SchemaCache,
  withDeclaredCompensations,
} from "./agents/check-plan.ts";
export { type ApprovalChange, gatesOf } from "./approvals/gate.ts";
export {
  applyApprovalDecision,
  applyResult,
  awaitsApproval,
  failTask,
  redispatchStep,
  newTaskState,
  pendingEffects,
  startTask,
  stepOutcomes,
  timeOutTask,
  type Transition,
} from "./task-machine.ts";
