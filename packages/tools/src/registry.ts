import { z } from "zod";
import type { Tool } from "./tool.ts";

/** A tool as a model sees it: name, description and a JSON Schema (draft 2020-12) of its input. */
export interface ToolDescription {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}

/** One agent's tool set. @throws Error on duplicate tool names. */
export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();

  constructor(tools: readonly Tool[]) {
    for (const tool of tools) {
      if (this.#tools.has(tool.name)) throw new Error(`duplicate tool name "${tool.name}"`);
      this.#tools.set(tool.name, tool);
    }
  }

  get(name: string): Tool | undefined {
    return this.#tools.get(name);
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  /** Descriptions for a model's tool list, input schemas via `z.toJSONSchema` (input view). */
  describe(): ToolDescription[] {
    return [...this.#tools.values()].map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: z.toJSONSchema(t.input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    }));
  }
}
