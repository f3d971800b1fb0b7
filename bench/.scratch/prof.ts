import { runProfileScenario } from "../scenarios/profile.ts";
const r = await runProfileScenario(10, 20, console.log, { cpuTasks: 150 });
(await import("node:fs")).writeFileSync("/tmp/prof.json", JSON.stringify(r));
