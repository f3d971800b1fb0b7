import { runProfileScenario } from "../scenarios/profile.ts";
const r = await runProfileScenario(10, 20, console.log);
console.log(JSON.stringify(r, null, 1));
