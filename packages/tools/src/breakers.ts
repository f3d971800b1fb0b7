import type { ToolCallResult } from "@baton/contracts";
import { BrokenCircuitError, CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from "cockatiel";

/** Settings of {@link ToolBreakers}. */
export interface ToolBreakerOptions {
  /** Consecutive retryable failures of one tool that open its circuit. Default 5. */
  readonly threshold?: number;
  /** How long an open circuit rejects calls before letting one through (half-open), in ms. Default 10,000. */
  readonly halfOpenAfterMs?: number;
  /** Told of every state change: `open`, `half-open`, `closed`. */
  readonly onStateChange?: (tool: string, state: "open" | "half-open" | "closed") => void;
}

/** A retryable tool failure, carried through the breaker so it counts as one. */
class RetryableToolFailure extends Error {
  readonly result: ToolCallResult;
  constructor(result: ToolCallResult) {
    super("retryable tool failure");
    this.result = result;
  }
}

/**
 * One circuit breaker per tool (cockatiel, consecutive-failure breaker), shared by every step of a
 * worker process: after `threshold` retryable failures in a row (timeouts, transient errors) the
 * tool's circuit opens and calls fail fast with `TOOL_CIRCUIT_OPEN` (retryable: the step is
 * redelivered with backoff) until one call in half-open state succeeds.
 */
export class ToolBreakers {
  readonly #breakers = new Map<string, CircuitBreakerPolicy>();
  readonly #options: ToolBreakerOptions;

  constructor(options: ToolBreakerOptions = {}) {
    this.#options = options;
  }

  /** Each tool's circuit state: `closed`, `open`, `half-open` or `isolated`. */
  states(): Record<string, string> {
    return Object.fromEntries([...this.#breakers].map(([tool, b]) => [tool, stateName(b.state)]));
  }

  /** Runs one tool call through its tool's breaker. Never throws: an open circuit is a failed result. */
  async run(tool: string, args: Record<string, unknown>, call: () => Promise<ToolCallResult>): Promise<ToolCallResult> {
    const breaker = this.#breakerFor(tool);
    try {
      return await breaker.execute(async () => {
        const result = await call();
        if (!result.ok && result.error.retryable) throw new RetryableToolFailure(result);
        return result;
      });
    } catch (error) {
      if (error instanceof RetryableToolFailure) return error.result;
      if (error instanceof BrokenCircuitError) {
        return {
          tool,
          args,
          ok: false,
          error: {
            code: "TOOL_CIRCUIT_OPEN",
            message: `${tool}: circuit ${stateName(breaker.state)} after ${this.#options.threshold ?? 5} consecutive failures; retry after ${this.#options.halfOpenAfterMs ?? 10_000} ms`,
            retryable: true,
          },
          durationMs: 0,
        };
      }
      throw error;
    }
  }

  #breakerFor(tool: string): CircuitBreakerPolicy {
    let breaker = this.#breakers.get(tool);
    if (!breaker) {
      breaker = circuitBreaker(
        handleWhen((e) => e instanceof RetryableToolFailure),
        { halfOpenAfter: this.#options.halfOpenAfterMs ?? 10_000, breaker: new ConsecutiveBreaker(this.#options.threshold ?? 5) },
      );
      const notify = this.#options.onStateChange;
      if (notify) {
        breaker.onBreak(() => notify(tool, "open"));
        breaker.onHalfOpen(() => notify(tool, "half-open"));
        breaker.onReset(() => notify(tool, "closed"));
      }
      this.#breakers.set(tool, breaker);
    }
    return breaker;
  }
}

function stateName(state: CircuitState): string {
  switch (state) {
    case CircuitState.Closed:
      return "closed";
    case CircuitState.Open:
      return "open";
    case CircuitState.HalfOpen:
      return "half-open";
    case CircuitState.Isolated:
      return "isolated";
  }
}
