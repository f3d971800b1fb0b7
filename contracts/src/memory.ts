import { z } from "zod";
import { AgentName } from "./agents.ts";
import { TaskId, Timestamp } from "./ids.ts";
import { Usage } from "./tool-result.ts";
import { SchemaVersion } from "./version.ts";

/** What the memory store keeps of one finished task (one document per taskId). */
export const MemorySummary = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  goal: z.string(),
  /** A digest of the answer, at most 2,000 characters. */
  digest: z.string().max(2_000),
  keyFacts: z.array(z.string().max(500)).max(20),
  agents: z.array(AgentName),
  tools: z.array(z.string()),
  usage: Usage,
  createdAt: Timestamp,
});
export type MemorySummary = z.infer<typeof MemorySummary>;
