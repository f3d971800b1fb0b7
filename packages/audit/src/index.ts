/**
 * @baton/audit — the tamper-evident audit ledger: {@link AuditTrail} for producers (publish an
 * entry on `audit.in.<role>`), the supervisor's chainer ({@link startAuditChainer}) that appends
 * entries to the hash chain in BATON_AUDIT, and reading and verification ({@link readAudit},
 * {@link verifyAudit}, {@link verifyChain}).
 */
export { argsSha256, canonicalJson, recordHash, sha256Hex } from "./canonical.ts";
export {
  buildRecord,
  type ChainAnchor,
  type ChainBreak,
  type ChainBreakReason,
  type ChainLink,
  ChainVerifier,
  type VerifyResult,
  verifyChain,
} from "./chain.ts";
export { AuditChainer, type AuditChainerOptions, type AuditChainerStats, type RunningAuditChainer, startAuditChainer } from "./chainer.ts";
export { AuditEnv } from "./config.ts";
export {
  parseStoredRecord,
  type ReadAuditOptions,
  readAudit,
  readStream,
  type StoredAuditRecord,
  type VerifyAuditOptions,
  verifyAudit,
} from "./read.ts";
export { isSecretKey, REDACTED, redact, redactString } from "@baton/core";
export {
  type AuditInput,
  type AuditPublished,
  AuditTrail,
  auditId,
  type AuditTrailOptions,
  type ToolCallInput,
  toolCallDetails,
} from "./trail.ts";
export { type LoggedViolation, parseViolation, type ViolationWatch, type ViolationWatchOptions, watchViolations } from "./violations.ts";
