/**
 * @baton/contracts — the bus API: every message as a versioned zod schema with a same-named
 * inferred type, the subjects, and the JetStream streams, consumers and KV buckets as data.
 */
export * from "./agents.ts";
export * from "./approvals.ts";
export * from "./audit.ts";
export * from "./budget.ts";
export * from "./canonical.ts";
export * from "./dead-letter.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./ids.ts";
export * from "./limits.ts";
export * from "./memory.ts";
export * from "./permissions.ts";
export * from "./plan.ts";
export * from "./state.ts";
export * from "./streams.ts";
export * from "./subjects.ts";
export * from "./task.ts";
export * from "./tool-result.ts";
export * from "./version.ts";
export * from "./work.ts";
export * from "./json-schema.ts";
