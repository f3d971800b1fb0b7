import type { ErrorCode } from "@baton/contracts";
import type { DatasetSpec } from "./datasets.ts";
import type { LoadedDataset } from "./sql-backend.ts";
import type { SqlEngineOptions } from "./sql-engine.ts";

// Messages between SqlSandbox (the agent's process) and sql-host.ts (the SQL process), over the
// IPC channel of child_process.fork, JSON-serialized.

/** Agent → SQL process. `open` comes first, once; `cancel` interrupts the query `id`. */
export type HostRequest =
  | { readonly type: "open"; readonly datasets: readonly DatasetSpec[]; readonly options: SqlEngineOptions }
  | { readonly type: "query"; readonly id: number; readonly sql: string; readonly maxRows: number | undefined }
  | { readonly type: "sample"; readonly id: number; readonly name: string; readonly limit: number }
  | { readonly type: "cancel"; readonly id: number };

/** A failed call as it crosses the channel. */
export interface HostError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

/** The SQL process's memory as /proc/self/status reports it (Linux), in bytes; nulls elsewhere. */
export interface HostMemory {
  /** Writable address space (VmData): what RLIMIT_DATA limits. */
  readonly dataBytes: number | null;
  /** Resident set size (VmRSS). */
  readonly rssBytes: number | null;
  /** Peak resident set size (VmHWM) since the process started or its peak was last reset. */
  readonly peakRssBytes: number | null;
}

/** The answer to a `query` or `sample`, with the process's memory right after it. */
export type HostReply =
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly value: unknown; readonly memory: HostMemory }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly error: HostError; readonly memory: HostMemory };

/** What the SQL process reports about itself once the datasets are loaded. */
export interface HostProcessInfo {
  /** Its RLIMIT_DATA (soft) in bytes, from /proc/self/limits; null when unlimited or unknown. */
  readonly dataLimitBytes: number | null;
  /** Its memory after loading the datasets. */
  readonly memory: HostMemory;
}

/** SQL process → agent: `ready` or `failed` answers `open`; then one reply per call. */
export type HostMessage =
  | { readonly type: "ready"; readonly datasets: readonly LoadedDataset[]; readonly process: HostProcessInfo }
  | { readonly type: "failed"; readonly message: string }
  | HostReply;
