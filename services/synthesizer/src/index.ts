/** @baton/synthesizer — combines step results into the task's answer and memory summary. */
export { SynthesizerEnv } from "./config.ts";
export { SYNTHESIZER_SYSTEM_PROMPT, synthesisPrompt } from "./llm-answer.ts";
export { type DisplayOf, keyFacts, planSection, renderReport } from "./report.ts";
export { renderOutput, renderValue } from "./render-output.ts";
export { runSynthesizer } from "./synthesizer.ts";
