import { z } from "zod";
import { TaskEvent } from "./events.ts";
import { Plan } from "./plan.ts";
import { TaskCompleted, TaskFailed, TaskRejected, TaskSubmission } from "./task.ts";

/** The public messages, by file name, exported as JSON Schema for clients in other languages. */
export const PUBLIC_SCHEMAS = {
  "task-submission": { schema: TaskSubmission, io: "input" },
  plan: { schema: Plan, io: "input" },
  "task-rejected": { schema: TaskRejected, io: "output" },
  "task-completed": { schema: TaskCompleted, io: "output" },
  "task-failed": { schema: TaskFailed, io: "output" },
  "task-event": { schema: TaskEvent, io: "output" },
} as const;

/**
 * JSON Schema (draft 2020-12) of one public message. Submissions use the input view
 * (fields with defaults are optional); published messages the output view.
 */
export function publicJsonSchema(name: keyof typeof PUBLIC_SCHEMAS): Record<string, unknown> {
  const { schema, io } = PUBLIC_SCHEMAS[name];
  return z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
}
