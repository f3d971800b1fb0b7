import { type AuditEntry, AuditRecord, type AuditSource } from "@baton/contracts";
import { recordHash } from "./canonical.ts";

/** Where a new record goes: its index and the hash of the record before it (null when none is known). */
export interface ChainLink {
  readonly index: number;
  readonly prevHash: string | null;
}

/** The chain record for `entry`, published by `source`, at `link`; `hash` computed over the rest. */
export function buildRecord(entry: AuditEntry, source: AuditSource, link: ChainLink, chainedAt: Date = new Date()): AuditRecord {
  const unhashed = {
    ...entry,
    source,
    index: link.index,
    prevHash: link.prevHash,
    chainedAt: chainedAt.toISOString(),
  };
  return { ...unhashed, hash: recordHash(unhashed) };
}

/** Why a record breaks the chain. */
export type ChainBreakReason =
  /** Not JSON, or not an {@link AuditRecord}. */
  | "invalid_record"
  /** Its `hash` is not the hash of its content: the record was edited. */
  | "hash_mismatch"
  /** Its `index` does not follow the previous record's: records are missing (or repeated, reordered). */
  | "index_gap"
  /** Its `prevHash` is not the previous record's hash: the previous record was replaced. */
  | "prev_hash_mismatch"
  /** Its hash differs from a hash recorded earlier for its index (an anchor kept elsewhere). */
  | "anchor_mismatch"
  /** An anchor's index is past the end of the chain: the chain was cut or rebuilt shorter. */
  | "anchor_missing";

/** The first place the chain is broken. `seq` is the stream sequence (the 1-based position for a plain list). */
export interface ChainBreak {
  readonly index: number;
  readonly seq: number;
  readonly reason: ChainBreakReason;
  readonly message: string;
}

/** A record's hash as written down elsewhere (an off-site copy, a ticket), checked by verification. */
export interface ChainAnchor {
  readonly index: number;
  readonly hash: string;
}

/** What verification found. */
export interface VerifyResult {
  /** True when every record checked and no anchor failed. */
  readonly ok: boolean;
  /** Records examined (up to and including the first broken one). */
  readonly checked: number;
  /** Index of the first retained record; null for an empty chain. */
  readonly firstIndex: number | null;
  /** Index and hash of the last record examined; null for an empty chain. */
  readonly lastIndex: number | null;
  readonly headHash: string | null;
  /**
   * True when the first retained record is not the chain's first (index > 0): earlier records
   * expired by retention. Its own hash is checked; its link to the expired one cannot be.
   */
  readonly startsAfterExpiry: boolean;
  readonly firstBrokenAt?: ChainBreak;
}

/**
 * Checks a chain record by record, in stream order: each record's hash is recomputed from its
 * content, its index must follow the previous one's and its `prevHash` must be the previous
 * record's hash. Stops at the first break.
 */
export class ChainVerifier {
  readonly #anchors: ReadonlyMap<number, string>;
  #prev: { index: number; hash: string } | undefined;
  #firstIndex: number | null = null;
  #checked = 0;
  #broken: ChainBreak | undefined;

  constructor(anchors: readonly ChainAnchor[] = []) {
    this.#anchors = new Map(anchors.map((a) => [a.index, a.hash.toLowerCase()]));
  }

  /** True once a break was found (further records are ignored). */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  /**
   * Checks the next record: raw bytes (JSON) or an already parsed value, at stream sequence `seq`.
   * Returns false when it breaks the chain (or the chain was already broken).
   */
  add(data: unknown, seq: number): boolean {
    if (this.#broken) return false;
    this.#checked++;
    const expected = this.#prev ? this.#prev.index + 1 : 0;
    let raw: unknown = data;
    if (data instanceof Uint8Array) {
      try {
        raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
      } catch (error) {
        return this.#break(expected, seq, "invalid_record", `not UTF-8 JSON: ${(error as Error).message}`);
      }
    }
    const parsed = AuditRecord.safeParse(raw);
    if (!parsed.success) {
      const index = typeof (raw as { index?: unknown })?.index === "number" ? (raw as { index: number }).index : expected;
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ");
      return this.#break(index, seq, "invalid_record", `not an audit record: ${issues}`);
    }
    const record = parsed.data;
    // The hash covers the stored members as they are (an added member changes it too), not the parsed copy.
    const actual = recordHash(raw as Record<string, unknown>);
    if (actual !== record.hash) {
      return this.#break(
        record.index,
        seq,
        "hash_mismatch",
        `record ${record.index} was altered: its content hashes to ${actual}, not ${record.hash}`,
      );
    }
    if (this.#prev) {
      if (record.index !== expected) {
        const what = record.index > expected ? `record(s) ${expected}..${record.index - 1} missing` : "repeated or out of order";
        return this.#break(record.index, seq, "index_gap", `index ${record.index} follows ${this.#prev.index}: ${what}`);
      }
      if (record.prevHash !== this.#prev.hash) {
        return this.#break(
          record.index,
          seq,
          "prev_hash_mismatch",
          `record ${record.index} links to ${record.prevHash ?? "nothing"}, but record ${this.#prev.index} hashes to ${this.#prev.hash}`,
        );
      }
    } else {
      this.#firstIndex = record.index;
      if (record.index === 0 && record.prevHash !== null) {
        return this.#break(0, seq, "prev_hash_mismatch", "the first record of the chain links to a previous record");
      }
    }
    const anchor = this.#anchors.get(record.index);
    if (anchor !== undefined && anchor !== record.hash) {
      return this.#break(
        record.index,
        seq,
        "anchor_mismatch",
        `record ${record.index} hashes to ${record.hash}, the anchor says ${anchor}`,
      );
    }
    this.#prev = { index: record.index, hash: record.hash };
    return true;
  }

  /** The verdict so far; anchors past the last record count as broken. */
  result(): VerifyResult {
    let broken = this.#broken;
    if (!broken) {
      const last = this.#prev?.index ?? -1;
      const beyond = [...this.#anchors.keys()].filter((i) => i > last).sort((a, b) => a - b)[0];
      if (beyond !== undefined) {
        broken = {
          index: beyond,
          seq: 0,
          reason: "anchor_missing",
          message: `the anchor names record ${beyond}, but the chain ends at ${last < 0 ? "no record" : `record ${last}`}`,
        };
      }
    }
    return {
      ok: broken === undefined,
      checked: this.#checked,
      firstIndex: this.#firstIndex,
      lastIndex: this.#prev?.index ?? null,
      headHash: this.#prev?.hash ?? null,
      startsAfterExpiry: (this.#firstIndex ?? 0) > 0,
      ...(broken ? { firstBrokenAt: broken } : {}),
    };
  }

  #break(index: number, seq: number, reason: ChainBreakReason, message: string): false {
    if (this.#firstIndex === null && reason !== "invalid_record") this.#firstIndex = index;
    this.#broken = { index, seq, reason, message };
    return false;
  }
}

/**
 * Verifies a list of records (parsed JSON values or raw bytes) in chain order; a break's `seq` is
 * the record's 1-based position in the list. See {@link ChainVerifier}.
 */
export function verifyChain(records: Iterable<unknown>, options: { anchors?: readonly ChainAnchor[] } = {}): VerifyResult {
  const verifier = new ChainVerifier(options.anchors);
  let position = 0;
  for (const record of records) {
    position++;
    if (!verifier.add(record, position)) break;
  }
  return verifier.result();
}
