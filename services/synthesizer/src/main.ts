import { loadConfig, runMain } from "@baton/core";
import { runSynthesizer, SynthesizerEnv } from "./index.ts";

runMain(() => runSynthesizer(loadConfig(SynthesizerEnv)));
