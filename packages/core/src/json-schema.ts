import type { FieldIssue } from "@baton/contracts";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** Checks a value against a compiled JSON Schema; returns the issues (empty when valid). */
export type JsonSchemaCheck = (value: unknown) => FieldIssue[];

// One Ajv instance per process: compiled validators are cached on it by schema identity.
let ajv: Ajv2020 | undefined;

function instance(): Ajv2020 {
  if (!ajv) {
    // strict: false — schemas come from other programs (MCP servers, workers in other languages)
    // and may carry keywords Ajv does not know; they are ignored rather than refused.
    ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
    addFormats.default(ajv);
  }
  return ajv;
}

/**
 * Compiles a JSON Schema (draft 2020-12; older drafts' common keywords work the same) with Ajv
 * (https://ajv.js.org) into a check whose issues have dotted paths under `prefix` (e.g.
 * `args.rows.0.name`). A `required` failure names the missing property in its path.
 * @throws Error when the schema itself cannot be compiled (e.g. an unresolvable `$ref`).
 */
export function compileJsonSchema(schema: Record<string, unknown>, prefix = ""): JsonSchemaCheck {
  const validate: ValidateFunction = instance().compile(schema);
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map((e) => toIssue(e, prefix)));
}

/** The dotted path of an Ajv error (`/a/0/b` → `a.0.b`), with a missing property appended. */
export function jsonSchemaErrorPath(error: ErrorObject): string[] {
  const parts = error.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (error.keyword === "required" && typeof error.params["missingProperty"] === "string") parts.push(error.params["missingProperty"]);
  if (error.keyword === "additionalProperties" && typeof error.params["additionalProperty"] === "string")
    parts.push(error.params["additionalProperty"]);
  return parts;
}

function toIssue(error: ErrorObject, prefix: string): FieldIssue {
  const parts = jsonSchemaErrorPath(error);
  const path = [prefix, ...parts].filter((p) => p !== "").join(".") || "(root)";
  const message =
    error.keyword === "additionalProperties"
      ? "unknown property"
      : error.keyword === "enum" && Array.isArray(error.params["allowedValues"])
        ? `must be one of ${(error.params["allowedValues"] as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`
        : (error.message ?? error.keyword);
  return { path, message };
}
