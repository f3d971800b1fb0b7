import { z } from "zod";

/** The worker agent types. Each owns one subject prefix and one durable consumer. */
export const AgentName = z.enum(["research", "code", "data"]);
export type AgentName = z.infer<typeof AgentName>;

/** Every agent type, in a stable order. */
export const AGENT_NAMES: readonly AgentName[] = AgentName.options;
