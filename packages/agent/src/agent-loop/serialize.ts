/**
 * The text a model reads for a value: strings as they are, everything else as compact JSON
 * (`undefined` → `null`); a value JSON cannot represent (a cycle, a BigInt) falls back to `String(value)`.
 */
export function serializeForModel(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value ?? null) ?? String(value);
  } catch {
    return String(value);
  }
}
