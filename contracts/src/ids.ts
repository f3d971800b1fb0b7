import { z } from "zod";
import { notReserved, RESERVED_MESSAGE } from "./limits.ts";

/**
 * Identifier usable as a single NATS subject token and a KV key: 1–128 chars of
 * `[A-Za-z0-9_-]`, not one of the reserved names (`__proto__`, `constructor`, … — see `RESERVED_NAMES`). Dots, spaces and wildcards are refused because they would
 * split or widen a subject (NATS subject grammar, https://docs.nats.io/nats-concepts/subjects).
 */
export const Identifier = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, "must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
  .refine(notReserved, RESERVED_MESSAGE);
export type Identifier = z.infer<typeof Identifier>;

/** A task's id: the client's idempotency key (same taskId twice → one run). */
export const TaskId = Identifier;
export type TaskId = z.infer<typeof TaskId>;

/** A step's id, unique within its plan. */
export const StepId = Identifier;
export type StepId = z.infer<typeof StepId>;

/** ISO-8601 timestamp in UTC, e.g. `2026-11-22T00:13:41.000Z`. */
export const Timestamp = z.iso.datetime();
export type Timestamp = z.infer<typeof Timestamp>;

/**
 * A random id the supervisor gives each dispatch of a work item and expects back in its result:
 * a result without the id of the current dispatch is ignored, so nobody who has not received the
 * work can report it (nor take its `Nats-Msg-Id` first). 8–64 characters of `A-Z a-z 0-9 _ -`.
 */
export const DispatchId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "must be 8-64 characters of A-Z, a-z, 0-9, '_' or '-'");
export type DispatchId = z.infer<typeof DispatchId>;
