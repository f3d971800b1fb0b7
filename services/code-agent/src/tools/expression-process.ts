/**
 * The entry of an expression evaluator process (forked by evaluate-expression.ts through the worker pool):
 * builds the restricted mathjs instance, sends "ready", then evaluates one expression per message and sends
 * one reply for each. Exits when the agent disconnects. Imported rather than run, it does nothing.
 */
import { createRestrictedEvaluator } from "./expression-evaluator.ts";
import type { EvaluateExpressionOutput, ExpressionRequest } from "./expression-shared.ts";
import type { WorkerMessage } from "./worker-pool.ts";

if (import.meta.main && process.send) {
  const send = process.send.bind(process);
  const post = (message: WorkerMessage<EvaluateExpressionOutput>) => send(message);
  const evaluate = createRestrictedEvaluator();
  process.on("message", ({ expression, scope }: ExpressionRequest) => {
    try {
      post({ ok: true, output: evaluate(expression, scope) });
    } catch (error) {
      post({ ok: false, code: "TOOL_FAILED", message: error instanceof Error ? error.message : String(error) });
    }
  });
  process.on("disconnect", () => process.exit(0)); // the agent is gone
  post("ready");
}
