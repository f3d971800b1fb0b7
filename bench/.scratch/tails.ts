import { BatonDriver } from "../lib/drivers.ts";
import { chainPlan } from "../lib/plans.ts";
import { codeAgent, startBatonStack, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";
const stack = await startBatonStack("t", [{ spec: SUPERVISOR }, { spec: codeAgent() }, { spec: SYNTHESIZER }]);
const d = await BatonDriver.connect(stack.url);
for (let i = 0; i < 20; i++) await d.runPlan(chainPlan(3));
for (const p of stack.processes) console.log("---", p.label, "\n", p.tail().slice(-1500));
await d.close();
await stack.stop();
