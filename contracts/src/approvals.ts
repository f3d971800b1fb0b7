import { z } from "zod";
import { AgentName, RiskTier, ToolName } from "./agents.ts";
import { sha256Hex } from "./canonical.ts";
import { StepId, TaskId, Timestamp } from "./ids.ts";
import { SchemaVersion } from "./version.ts";

/**
 * Which tool calls wait for a person. Set by the operator (the supervisor's `APPROVAL_POLICY_JSON`),
 * never by a plan — a plan may only add gates ({@link PlanApproval}), so injected text that
 * reaches a planner cannot lift one.
 * - `tiers`: the risk tiers that need approval; default `write` and `external`;
 * - `agents.<agent>.tiers`: the same for one agent type (replaces `tiers` for it);
 * - `agents.<agent>.tools.<tool>`: `always` or `never`, over the tiers.
 */
export const ApprovalPolicy = z.strictObject({
  tiers: z.array(RiskTier).default(["write", "external"]),
  agents: z
    .record(
      AgentName,
      z.strictObject({
        tiers: z.array(RiskTier).optional(),
        tools: z.record(ToolName, z.enum(["always", "never"])).optional(),
      }),
    )
    .default({}),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicy>;

/** The default policy: writes and external effects wait for a person. */
export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = ApprovalPolicy.parse({});

/**
 * What a plan may add to the policy (never remove): `all` — every tool call of the task waits;
 * `tools` — these tools (`<agent>/<tool>`) wait too.
 */
export const PlanApproval = z.strictObject({
  all: z.boolean().default(false),
  tools: z
    .array(z.string().regex(/^[a-z][a-z0-9-]{0,31}\/[A-Za-z0-9_-]{1,64}$/, "must be <agent>/<tool>"))
    .max(64)
    .default([]),
});
export type PlanApproval = z.infer<typeof PlanApproval>;

/**
 * Whether a call of `tool` (of `agent`, with risk tier `riskTier`) must wait for approval under
 * `policy` and the plan's additions.
 */
export function needsApproval(
  policy: ApprovalPolicy,
  agent: string,
  tool: { readonly name: string; readonly riskTier: RiskTier },
  plan?: PlanApproval,
): boolean {
  if (plan?.all || plan?.tools.includes(`${agent}/${tool.name}`)) return true;
  // Own entries only: a name like `constructor` must not find what every object inherits.
  const forAgent = Object.hasOwn(policy.agents, agent) ? policy.agents[agent] : undefined;
  const override = forAgent?.tools && Object.hasOwn(forAgent.tools, tool.name) ? forAgent.tools[tool.name] : undefined;
  if (override) return override === "always";
  return (forAgent?.tiers ?? policy.tiers).includes(tool.riskTier);
}

/** One tool call an approval covers: the tool, its arguments (secrets redacted) and their hash. */
export const ApprovalCall = z.object({
  tool: ToolName,
  /** The arguments as the approver sees them; values of secret-looking keys are `[redacted]`. */
  args: z.record(z.string(), z.unknown()),
  /** SHA-256 (hex) of the canonical JSON of the real arguments: the approval is for exactly these. */
  argsHash: z.string().regex(/^[0-9a-f]{64}$/),
  riskTier: RiskTier,
  /**
   * Arguments whose text was found verbatim in data the agent did not write (a tool output, an
   * earlier step's result): a hint that the model may be copying injected text into the call.
   */
  provenance: z
    .array(z.object({ path: z.string().max(512), source: z.string().max(256), excerpt: z.string().max(512) }))
    .max(64)
    .optional(),
});
export type ApprovalCall = z.infer<typeof ApprovalCall>;

/** An approval's id (one subject token): `a-` and 32 hex characters, see {@link approvalIdOf}. */
export const ApprovalId = z.string().regex(/^a-[0-9a-f]{32}$/, "must be a- and 32 hex digits");
export type ApprovalId = z.infer<typeof ApprovalId>;

/**
 * A request for a person's decision, published on `approvals.requests.<approvalId>` (kept in
 * BATON_APPROVALS) and recorded in the KV bucket `baton_approvals`: any client allowed to decide
 * may serve it (the CLI, a chat bot, a web page).
 */
export const ApprovalRequest = z.object({
  schemaVersion: SchemaVersion,
  approvalId: ApprovalId,
  taskId: TaskId,
  stepId: StepId,
  agent: AgentName,
  goal: z.string(),
  instruction: z.string(),
  calls: z.array(ApprovalCall).min(1),
  /** Why it waits, e.g. `create_ticket is a write tool: writes need approval`. */
  reason: z.string(),
  requestedAt: Timestamp,
  /** No decision by then counts as a denial. */
  expiresAt: Timestamp,
});
export type ApprovalRequest = z.infer<typeof ApprovalRequest>;

/** A person's decision, published on `approvals.decisions.<approvalId>` by an approver (operator role). */
export const ApprovalDecision = z.object({
  schemaVersion: SchemaVersion,
  approvalId: ApprovalId,
  decision: z.enum(["approve", "deny"]),
  /** Who decided (recorded with the decision and in the audit ledger). */
  approver: z.string().min(1).max(128),
  comment: z.string().max(2_000).optional(),
  decidedAt: Timestamp,
});
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** An approval as the bucket `baton_approvals` keeps it: the request and what became of it. */
export const ApprovalRecord = ApprovalRequest.extend({
  /** `withdrawn`: the task ended (cancelled, timed out, another step failed) before a decision. */
  status: z.enum(["pending", "approved", "denied", "expired", "withdrawn"]),
  decision: ApprovalDecision.optional(),
});
export type ApprovalRecord = z.infer<typeof ApprovalRecord>;

/** A decision about one call, as the work carries it to the worker (matched by tool and `argsHash`). */
export const CallDecision = z.object({
  tool: ToolName,
  argsHash: z.string().regex(/^[0-9a-f]{64}$/),
  decision: z.enum(["approve", "deny"]),
  approver: z.string().min(1).max(128),
  comment: z.string().max(2_000).optional(),
});
export type CallDecision = z.infer<typeof CallDecision>;

/**
 * What a step's work says about approvals: the tools of this step that need a decision before
 * a call runs (`gated`), the decisions made so far, and — for an LLM loop that paused — the KV
 * key of its saved conversation to continue from (bucket `baton_checkpoints`).
 */
export const WorkApproval = z.object({
  gated: z.array(ToolName),
  decisions: z.array(CallDecision).default([]),
  checkpoint: z.string().max(512).optional(),
});
export type WorkApproval = z.infer<typeof WorkApproval>;

/** A step's open (or last) approval, as task state keeps it. */
export const StepApproval = z.object({
  /** 1 for the step's first approval, then 2, … (an LLM loop may pause more than once). */
  seq: z.number().int().positive(),
  approvalId: ApprovalId,
  calls: z.array(ApprovalCall),
  reason: z.string(),
  requestedAt: Timestamp,
  expiresAt: Timestamp,
  /** The paused LLM loop's saved conversation (KV key in `baton_checkpoints`), when it paused. */
  checkpoint: z.string().max(512).optional(),
  /** The decisions, once made; they travel to the worker with the next dispatch. */
  decisions: z.array(CallDecision).optional(),
});
export type StepApproval = z.infer<typeof StepApproval>;

/** A tool of a step's agent that needs approval in this task, with its risk tier. */
export const GatedTool = z.object({ tool: ToolName, riskTier: RiskTier });
export type GatedTool = z.infer<typeof GatedTool>;

/** The id of the `n`th approval of a step: `a-` and 32 hex characters of SHA-256 over task, step and n. */
export function approvalIdOf(taskId: string, stepId: string, n: number): ApprovalId {
  return `a-${sha256Hex(`${taskId}\u0000${stepId}\u0000${n}`).slice(0, 32)}`;
}
