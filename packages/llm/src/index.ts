/** @baton/llm — chat with tools over the Anthropic and OpenAI SDKs, behind one interface. */
export { LlmError } from "./errors.ts";
export { type ScriptedReply, ScriptedChatProvider } from "./scripted-provider.ts";
export * from "./types.ts";
