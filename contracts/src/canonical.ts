import { createHash } from "node:crypto";

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as `Array.prototype.sort` does), no
 * whitespace, `undefined` object members left out, numbers and strings as `JSON.stringify` writes
 * them — the form of RFC 8785 (JCS) for the values audit records hold. The same value gives the
 * same text in every process and language, whatever order its keys were built in.
 * @throws TypeError for values JSON cannot represent (non-finite numbers, bigints, functions, symbols).
 */
export function canonicalJson(value: unknown): string {
  return write(value, new Set());
}

function write(value: unknown, seen: Set<object>): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no form for ${value}`);
      return JSON.stringify(value);
    case "object":
      break;
    default:
      throw new TypeError(`canonical JSON has no form for a ${typeof value}`);
  }
  const object = value as object & { toJSON?: () => unknown };
  if (typeof object.toJSON === "function") return write(object.toJSON(), seen);
  if (seen.has(object)) throw new TypeError("canonical JSON has no form for a cyclic value");
  seen.add(object);
  try {
    if (Array.isArray(object)) return `[${object.map((v: unknown) => (v === undefined ? "null" : write(v, seen))).join(",")}]`;
    const members = Object.keys(object)
      .sort()
      .flatMap((key) => {
        const v = (object as Record<string, unknown>)[key];
        return v === undefined ? [] : [`${JSON.stringify(key)}:${write(v, seen)}`];
      });
    return `{${members.join(",")}}`;
  } finally {
    seen.delete(object);
  }
}

/** SHA-256 of a string (UTF-8) or bytes, lower-case hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * SHA-256 (hex) of a tool call's arguments as canonical JSON ({@link canonicalJson}): what an
 * approval covers and the audit ledger records — exactly these arguments, whatever their key order.
 * @throws TypeError for values JSON cannot represent.
 */
export function argsHash(args: Readonly<Record<string, unknown>> | undefined): string {
  return sha256Hex(canonicalJson(args ?? {}));
}
