import { AUDIT_DEFAULT_MAX_AGE_DAYS } from "@baton/contracts";
import { envBoolean, envPositiveInt } from "@baton/core";
import { z } from "zod";

/**
 * Audit settings read from the environment (`loadConfig(AuditEnv)`):
 * - `AUDIT_MAX_AGE_DAYS` (supervisor): how long BATON_AUDIT keeps records; applied to the stream
 *   when the supervisor starts; default 365.
 * - `AUDIT_INCLUDE_ARGS` (workers): keep tool-call arguments (redacted) in `tool_call` entries;
 *   default false (only their SHA-256).
 */
export const AuditEnv = z.object({
  AUDIT_MAX_AGE_DAYS: envPositiveInt.max(36_500).default(AUDIT_DEFAULT_MAX_AGE_DAYS),
  AUDIT_INCLUDE_ARGS: envBoolean.default(false),
});
export type AuditEnv = z.infer<typeof AuditEnv>;
