import type { ToolCard } from "@baton/contracts";
import { type Tool, toolCard } from "./tool.ts";

/** A tool as a model sees it: name, description and a JSON Schema (draft 2020-12) of its input. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}

/**
 * One agent's tool set. It can change while the agent runs (an MCP server's tool list):
 * {@link replace} swaps it and tells the listeners.
 * @throws Error on duplicate tool names.
 */
export class ToolRegistry {
  #tools = new Map<string, Tool>();
  readonly #listeners = new Set<() => void>();

  constructor(tools: readonly Tool[]) {
    this.#tools = toMap(tools);
  }

  get(name: string): Tool | undefined {
    return this.#tools.get(name);
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  /** Every tool, in registration order. */
  tools(): Tool[] {
    return [...this.#tools.values()];
  }

  /** Descriptions for a model's tool list. */
  describe(): ToolDescription[] {
    return this.tools().map((t) => ({ name: t.name, description: t.description, inputSchema: t.inputSchema }));
  }

  /** The tools as the agent card lists them. */
  cards(): ToolCard[] {
    return this.tools().map(toolCard);
  }

  /** Replaces the tool set and tells every listener. @throws Error on duplicate names (nothing changes then). */
  replace(tools: readonly Tool[]): void {
    this.#tools = toMap(tools);
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after every {@link replace}; returns a function that removes it. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function toMap(tools: readonly Tool[]): Map<string, Tool> {
  const map = new Map<string, Tool>();
  for (const tool of tools) {
    if (map.has(tool.name)) throw new Error(`duplicate tool name "${tool.name}"`);
    map.set(tool.name, tool);
  }
  return map;
}
