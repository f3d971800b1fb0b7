/**
 * True when a KV `create`/`update` failed its compare-and-set: the key existed, or its
 * revision moved on (JetStream API error 10071, "wrong last sequence").
 */
export function isWrongSequence(error: unknown): boolean {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : "";
  const text = error instanceof Error ? `${error.message} ${cause}` : String(error);
  return text.includes("wrong last sequence") || text.includes("10071");
}
