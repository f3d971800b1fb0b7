import type { StepOutcome, SynthesisRequest, ToolDisplay } from "@baton/contracts";
import { renderOutput } from "./render-output.ts";

/** How a tool's output is best shown, as its agent's card declares; undefined when not declared or unknown. */
export type DisplayOf = (agent: string, tool: string) => ToolDisplay | undefined;

/**
 * The task's answer without an LLM: a deterministic Markdown report rendered from the plan
 * and the step outputs, each shown as its tool declares ({@link DisplayOf}) or by its shape.
 * `durationMs` is the task's time from acceptance to now.
 */
export function renderReport(request: SynthesisRequest, durationMs: number, displayOf: DisplayOf = () => undefined): string {
  const outcomes = new Map(request.steps.map((s) => [s.stepId, s]));
  const lines: string[] = [`# ${request.goal}`, "", ...planSection(request, durationMs), "", "## Findings", ""];
  for (const step of request.plan.steps) {
    const o = outcomes.get(step.id);
    lines.push(`### ${step.id} — ${step.instruction}`, "");
    lines.push(`_${step.agent} agent${o?.toolCalls.length ? ` · ${o.toolCalls.map((c) => c.tool).join(", ")}` : ""}_`, "");
    lines.push(renderStep(o, displayOf), "");
  }
  lines.push("## Sources", "");
  for (const agent of new Set(request.plan.steps.map((s) => s.agent))) {
    const tools = [...new Set(request.steps.filter((s) => s.agent === agent).flatMap((s) => s.toolCalls.map((c) => c.tool)))];
    if (tools.length > 0) lines.push(`- ${agent} agent: ${tools.join(", ")}`);
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/**
 * The "Plan" section: a line with the task id, step count and duration, then one table row
 * per step (agent, dependencies, status, time). Shared by the template and the LLM answer.
 */
export function planSection(request: SynthesisRequest, durationMs: number): string[] {
  const outcomes = new Map(request.steps.map((s) => [s.stepId, s]));
  const completed = request.steps.filter((s) => s.status === "completed").length;
  const lines = [
    "## Plan",
    "",
    `_Task \`${request.taskId}\` · ${request.plan.steps.length} steps (${completed} completed) · ${(durationMs / 1000).toFixed(2)} s_`,
    "",
    "| step | agent | depends on | status | time |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const step of request.plan.steps) {
    const o = outcomes.get(step.id);
    lines.push(
      `| ${step.id} | ${step.agent} | ${step.dependsOn.join(", ") || "—"} | ${o?.status ?? "skipped"} | ${o?.durationMs === undefined ? "—" : `${Math.round(o.durationMs)} ms`} |`,
    );
  }
  return lines;
}

function renderStep(o: StepOutcome | undefined, displayOf: DisplayOf): string {
  if (!o || o.status === "skipped") return "_Skipped: a step it depends on did not complete._";
  if (o.status === "failed") return `**Failed** — ${o.error?.code ?? "ERROR"}: ${o.error?.message ?? "unknown error"}`;
  const tool = o.toolCalls.at(-1)?.tool;
  return renderOutput(o.output, tool ? displayOf(o.agent, tool) : undefined);
}

/** One line per completed step for the memory summary's key facts (≤ 300 chars each). */
export function keyFacts(request: SynthesisRequest): string[] {
  return request.steps
    .filter((s) => s.status === "completed")
    .slice(0, 20)
    .map((s) => {
      const step = request.plan.steps.find((p) => p.id === s.stepId);
      const value = JSON.stringify(s.output ?? null);
      return `${s.stepId} (${s.agent}): ${step?.instruction ?? ""} → ${value.length > 200 ? `${value.slice(0, 200)}…` : value}`.slice(
        0,
        300,
      );
    });
}
