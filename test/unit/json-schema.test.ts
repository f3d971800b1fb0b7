import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PUBLIC_SCHEMAS, publicJsonSchema } from "@baton/contracts";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/services.ts";

describe("JSON Schema export of the public contract", () => {
  it("matches the committed files in contracts/json-schema (run npm run contracts:json-schema after a change)", () => {
    for (const name of Object.keys(PUBLIC_SCHEMAS) as (keyof typeof PUBLIC_SCHEMAS)[]) {
      const committed = JSON.parse(readFileSync(join(ROOT, "contracts", "json-schema", `${name}.json`), "utf8"));
      expect(committed, name).toEqual(publicJsonSchema(name));
    }
  });

  it("describes a submission with only goal required", () => {
    const schema = publicJsonSchema("task-submission") as { required: string[]; properties: Record<string, unknown> };
    expect(schema.required).toEqual(["goal"]);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["taskId", "goal", "plan", "timeoutMs"]));
  });
});
