/** The worker agent loop (ReAct): a step run by a chat model with tools. */
export { gateTurn, pendingCalls, type TurnGate } from "./approval.ts";
export { LoopApprovalDecision, LoopCheckpoint } from "./checkpoint.ts";
export { type ConversationSnapshot, type Turn, Conversation, messageChars } from "./conversation.ts";
export { type AgentLimits, DEFAULT_AGENT_LIMITS, type ResolvedAgentLimits, resolveAgentLimits } from "./limits.ts";
export { deniedResult, type Observations, type RunToolCallsOptions, runToolCalls } from "./observations.ts";
export { buildSystemPrompt, buildTaskMessage, type TaskMessageOptions } from "./prompts.ts";
export { runAgentLoop } from "./run-agent-loop.ts";
export { serializeForModel } from "./serialize.ts";
export { detectInstructionLike, FENCE_TAGS, type FenceOptions, type FenceTag, fenceUntrusted, randomNonce } from "./spotlight.ts";
export { buildSummaryRequest, renderTranscript, SUMMARIZER_SYSTEM_PROMPT, type SummaryRequestInput } from "./summarize.ts";
export { cutMarker, truncateMiddle } from "./truncate.ts";
export type {
  AgentAnswer,
  AgentLoopApproval,
  AgentLoopEnded,
  AgentLoopOptions,
  AgentLoopPaused,
  AgentLoopResult,
  ArgumentProvenance,
  BudgetGuard,
  PendingApproval,
  PendingApprovalCall,
  Spend,
} from "./types.ts";
export { spendOf, UsageMeter } from "./usage-meter.ts";
