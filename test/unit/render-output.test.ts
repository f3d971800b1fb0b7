import { renderOutput } from "@baton/synthesizer";
import { describe, expect, it } from "vitest";

describe("rendering a step's output by the tool's declared display", () => {
  const output = {
    total: 2,
    truncated: true,
    rows: [
      { city: "Seattle", n: 1.234 },
      { city: "Boston", n: 2 },
    ],
    text: "a *b*\nc",
    id: 7,
  };

  it("shows a table at the declared path, with a note when the holder says truncated", () => {
    const text = renderOutput(output, { format: "table", path: "/rows" });
    expect(text).toContain("| city | n |\n| --- | --- |\n| Seattle | 1.23 |\n| Boston | 2 |");
    expect(text).toContain("cut this output at its limit");
  });

  it("shows Markdown as is, text quoted, and JSON as a code block", () => {
    const whole = { ...output, truncated: false };
    expect(renderOutput(whole, { format: "markdown", path: "/text" })).toBe("a *b*\nc");
    expect(renderOutput(whole, { format: "text", path: "/text" })).toBe("> a *b*\n> c");
    expect(renderOutput(whole, { format: "json", path: "/id" })).toBe("```json\n7\n```");
  });

  it("shows the part at the path by its shape when no format is declared", () => {
    expect(renderOutput({ result: { warmest: "Aug", c: 26.08 } }, { path: "/result" })).toBe("- **warmest**: Aug\n- **c**: 26.08");
  });

  it("falls back to the shape of the whole output when the path or the shape does not fit", () => {
    expect(renderOutput({ a: 1 }, { format: "table", path: "/missing" })).toBe("- **a**: 1");
    expect(renderOutput({ a: "x" }, { format: "table", path: "/a" })).toBe("- **a**: x");
    expect(renderOutput([{ a: 1 }])).toBe("| a |\n| --- |\n| 1 |");
    expect(renderOutput(null)).toBe("_(no output)_");
  });
});
