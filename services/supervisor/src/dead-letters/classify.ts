import { AgentName, Identifier, RESULTS_STREAM, SUBMISSIONS_STREAM, SYNTHESIS_STREAM, subjects, WORK_STREAM } from "@baton/contracts";

/** What a dead-lettered message was, told from its stream and subject (and a submission's payload). */
export type DeadLetterKind =
  | { readonly kind: "work"; readonly agent: AgentName; readonly taskId: string; readonly stepId: string }
  | { readonly kind: "submission"; readonly taskId?: string }
  | { readonly kind: "result"; readonly agent: string; readonly taskId: string; readonly stepId: string }
  | { readonly kind: "synthesis"; readonly taskId: string }
  | { readonly kind: "other" };

const decoder = new TextDecoder("utf-8", { fatal: true });

const id = (token: string | undefined): string | undefined => (Identifier.safeParse(token).success ? token : undefined);

/**
 * Classifies a dead letter: `work.<agent>.<taskId>.<stepId>` in BATON_WORK, a submission
 * (`tasks.submit` in BATON_SUBMISSIONS; taskId from its payload when readable), `results.<agent>.<taskId>.<stepId>`,
 * `synthesis.<taskId>`; anything else (another stream, an unexpected subject) is `other`.
 */
export function classifyDeadLetter(stream: string, subject: string, data: Uint8Array): DeadLetterKind {
  const tokens = subject.split(".");
  if (stream === WORK_STREAM.name && tokens.length === 4 && tokens[0] === "work") {
    const agent = AgentName.safeParse(tokens[1]);
    const taskId = id(tokens[2]);
    const stepId = id(tokens[3]);
    if (agent.success && taskId && stepId) return { kind: "work", agent: agent.data, taskId, stepId };
  }
  if (stream === SUBMISSIONS_STREAM.name && subject === subjects.submit) {
    const taskId = claimedTaskId(data);
    return taskId ? { kind: "submission", taskId } : { kind: "submission" };
  }
  if (stream === RESULTS_STREAM.name && tokens.length === 4 && tokens[0] === "results") {
    const agent = AgentName.safeParse(tokens[1]);
    const taskId = id(tokens[2]);
    const stepId = id(tokens[3]);
    if (agent.success && taskId && stepId) return { kind: "result", agent: agent.data, taskId, stepId };
  }
  if (stream === SYNTHESIS_STREAM.name && tokens.length === 2 && tokens[0] === "synthesis") {
    const taskId = id(tokens[1]);
    if (taskId) return { kind: "synthesis", taskId };
  }
  return { kind: "other" };
}

/** The taskId a submission's payload claims, when it is JSON with a valid one. */
function claimedTaskId(data: Uint8Array): string | undefined {
  try {
    const raw: unknown = JSON.parse(decoder.decode(data));
    if (raw !== null && typeof raw === "object" && "taskId" in raw && typeof raw.taskId === "string") return id(raw.taskId);
  } catch {
    // not JSON: no taskId
  }
  return undefined;
}
