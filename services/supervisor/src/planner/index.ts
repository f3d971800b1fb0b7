export { type PlanResult, type PlanTaskOptions, planTask } from "./plan-task.ts";
export { PLANNER_SYSTEM_PROMPT, plannerUserPrompt } from "./prompt.ts";
