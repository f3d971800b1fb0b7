import { createEvaluateExpressionTool } from "../../services/code-agent/src/tools/evaluate-expression.ts";
const tool = createEvaluateExpressionTool();
const ctx = { signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} };
for (let round = 0; round < 3; round++) {
  const xs: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await tool.execute({ expression: "x + 1", scope: { x: 2 } }, ctx);
    xs.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  xs.sort((a, b) => a - b);
  console.log("p50", xs[100]?.toFixed(3), "p90", xs[180]?.toFixed(3), "max", xs[199]?.toFixed(3));
}
process.exit(0);
