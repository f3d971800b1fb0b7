import { argsHash, canonicalJson, sha256Hex } from "@baton/contracts";

export { canonicalJson, sha256Hex };

/**
 * The hash of an audit record: SHA-256 (hex) of the canonical JSON of the record without its
 * `hash` member. Any other member — the entry's fields, `source`, `index`, `prevHash`,
 * `chainedAt`, and any member an editor adds — is covered.
 */
export function recordHash(record: Record<string, unknown>): string {
  const { hash: _hash, ...rest } = record;
  return sha256Hex(canonicalJson(rest));
}

/** SHA-256 (hex) of the canonical JSON of a tool call's arguments (`{}` when absent): `argsHash` of the contracts. */
export function argsSha256(args: unknown): string {
  return args === undefined || args === null ? argsHash({}) : sha256Hex(canonicalJson(args));
}
