import type { Tool } from "./tool.ts";

/**
 * A set of tools that can change while the agent runs, e.g. the tools of MCP servers
 * (`mcpTools`). An agent publishes its card again after every change.
 */
export interface ToolProvider {
  /** The tools now. */
  tools(): readonly Tool[];
  /** Calls `listener` after each change of {@link tools}; returns a function that removes it. */
  onChange(listener: () => void): () => void;
  /** Releases what the provider holds (child processes, connections). Idempotent. */
  close(): Promise<void>;
}

/** Whether `entry` is a {@link ToolProvider} rather than a single tool. */
export function isToolProvider(entry: Tool | ToolProvider): entry is ToolProvider {
  return typeof (entry as Partial<ToolProvider>).onChange === "function" && typeof (entry as Partial<ToolProvider>).tools === "function";
}
