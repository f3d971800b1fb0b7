import { loadConfig, runMain } from "@baton/core";
import { SupervisorEnv, runSupervisor } from "./index.ts";

runMain(() => runSupervisor(loadConfig(SupervisorEnv)));
