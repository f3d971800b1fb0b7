/**
 * Limits of one agent-loop run (one step). Every field is optional in {@link AgentLimits};
 * {@link resolveAgentLimits} fills in {@link DEFAULT_AGENT_LIMITS}.
 */
export interface AgentLimits {
  /** Most model calls of the agent (summarization calls not counted). Default 10. */
  readonly maxTurns?: number;
  /**
   * Step token budget: input + output tokens of every model call of the step, summarization
   * included (input counts Anthropic cache reads/writes too). Default 50,000.
   */
  readonly maxStepTokens?: number;
  /** Largest tool result (or upstream result) the model sees, in characters; longer ones keep head and tail. Default 8,000. */
  readonly maxToolResultChars?: number;
  /** Conversation size, in characters of message text, above which older turns are summarized. Default 24,000. */
  readonly summarizeAfterChars?: number;
  /** Turns (assistant tool-call message + its tool results) kept verbatim when summarizing. Default 4; 0 allowed. */
  readonly keepLastTurns?: number;
  /** Output token limit of each model call (`maxTokens` of the request). Default 2,048. */
  readonly maxOutputTokens?: number;
}

/** {@link AgentLimits} with every field set. */
export type ResolvedAgentLimits = Required<AgentLimits>;

/** The defaults of {@link AgentLimits}. */
export const DEFAULT_AGENT_LIMITS: ResolvedAgentLimits = Object.freeze({
  maxTurns: 10,
  maxStepTokens: 50_000,
  maxToolResultChars: 8_000,
  summarizeAfterChars: 24_000,
  keepLastTurns: 4,
  maxOutputTokens: 2_048,
});

/** Smallest `maxToolResultChars`: room for a head, a tail and the cut marker. */
const MIN_TOOL_RESULT_CHARS = 200;

/**
 * Fills in defaults and validates.
 * @throws RangeError when a limit is not an integer, is below 1 (`keepLastTurns`: below 0),
 *   or `maxToolResultChars` is below 200.
 */
export function resolveAgentLimits(limits: AgentLimits = {}): ResolvedAgentLimits {
  const resolved: { -readonly [K in keyof ResolvedAgentLimits]: number } = { ...DEFAULT_AGENT_LIMITS };
  for (const key of Object.keys(DEFAULT_AGENT_LIMITS) as (keyof ResolvedAgentLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    const min = key === "keepLastTurns" ? 0 : key === "maxToolResultChars" ? MIN_TOOL_RESULT_CHARS : 1;
    if (!Number.isInteger(value) || value < min) {
      throw new RangeError(`agent limit ${key} must be an integer >= ${min}, got ${value}`);
    }
    resolved[key] = value;
  }
  return resolved;
}
