/** @baton/synthesizer — combines step results into the task's answer and memory summary. */
export { SynthesizerEnv } from "./config.ts";
export { keyFacts, renderReport } from "./report.ts";
export { renderOutput } from "./render-output.ts";
export { runSynthesizer } from "./synthesizer.ts";
