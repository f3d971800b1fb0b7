import type { Usage } from "@baton/contracts";
import type { Spend } from "@baton/core";
import type { ChatResponse } from "@baton/llm";

/**
 * The spending of one model call: input tokens include Anthropic cache reads and writes
 * (reported apart from `inputTokens`; 0 for other providers), cost in USD from the response.
 */
export function spendOf(response: Pick<ChatResponse, "usage" | "costUsd">): Spend {
  const { usage } = response;
  return {
    inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens,
    outputTokens: usage.outputTokens,
    costUsd: response.costUsd,
  };
}

/** Adds up a step's model spending (agent and summarization calls alike). */
export class UsageMeter {
  #inputTokens = 0;
  #outputTokens = 0;
  #costUsd = 0;

  /** @param initial spending already made (a run resumed from a checkpoint continues its usage). */
  constructor(initial?: Spend) {
    if (initial) this.add(initial);
  }

  add(spend: Spend): void {
    this.#inputTokens += spend.inputTokens;
    this.#outputTokens += spend.outputTokens;
    this.#costUsd += spend.costUsd;
  }

  /** Input + output tokens so far: what the step token budget counts. */
  get tokens(): number {
    return this.#inputTokens + this.#outputTokens;
  }

  /** The step's usage, with `toolCalls` tool calls. */
  usage(toolCalls: number): Usage {
    return { toolCalls, inputTokens: this.#inputTokens, outputTokens: this.#outputTokens, costUsd: this.#costUsd };
  }
}
