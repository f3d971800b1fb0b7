import { readFileSync } from "node:fs";
import { BatonError } from "@baton/core";
import { ToolError } from "@baton/tools";
import { SqlEngine } from "./sql-engine.ts";
import type { HostError, HostMemory, HostMessage, HostProcessInfo, HostRequest } from "./sql-protocol.ts";

// The SQL process: SqlSandbox forks this file under a data-segment limit (RLIMIT_DATA), sends
// `open` with the catalog, then queries. It holds the DuckDB database; if a query exhausts its
// memory or ignores an interrupt, only this process dies, and the sandbox starts another.

if (!process.send) throw new Error("sql-host.ts is the SQL process of SqlSandbox; it runs only as a forked child");

let engine: SqlEngine | undefined;
/** Queries in flight by id, to interrupt on `cancel`. */
const running = new Map<number, AbortController>();

function send(message: HostMessage): void {
  if (process.connected) process.send?.(message);
}

/** A thrown error as it crosses the channel; anything unexpected is a non-retryable TOOL_FAILED. */
function hostError(error: unknown): HostError {
  if (error instanceof ToolError || error instanceof BatonError) {
    return { code: error.code, message: error.message, retryable: error.retryable };
  }
  return { code: "TOOL_FAILED", message: `SQL process: ${error instanceof Error ? error.message : String(error)}`, retryable: false };
}

function readProc(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return ""; // not Linux
  }
}

/** VmData, VmRSS and VmHWM of this process, from /proc/self/status. */
function memory(): HostMemory {
  const status = readProc("/proc/self/status");
  const kib = (field: string): number | null => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    return value === undefined ? null : Number(value) * 1024;
  };
  return { dataBytes: kib("VmData"), rssBytes: kib("VmRSS"), peakRssBytes: kib("VmHWM") };
}

/** RLIMIT_DATA of this process (null when unlimited or unknown) and its memory. */
function processInfo(): HostProcessInfo {
  const limit = /^Max data size\s+(\d+)/m.exec(readProc("/proc/self/limits"))?.[1];
  return { dataLimitBytes: limit === undefined ? null : Number(limit), memory: memory() };
}

async function handle(request: HostRequest): Promise<void> {
  if (request.type === "open") {
    try {
      engine = await SqlEngine.open(request.datasets, request.options);
      send({ type: "ready", datasets: engine.datasets, process: processInfo() });
    } catch (error) {
      send({ type: "failed", message: error instanceof Error ? error.message : String(error) });
    }
    return;
  }
  if (request.type === "cancel") {
    running.get(request.id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(request.id, controller);
  try {
    if (!engine) throw new ToolError("TOOL_FAILED", "the SQL process has no database open", { retryable: true });
    const value =
      request.type === "query"
        ? await engine.query(request.sql, { maxRows: request.maxRows, signal: controller.signal })
        : await engine.sample(request.name, request.limit);
    send({ type: "reply", id: request.id, ok: true, value, memory: memory() });
  } catch (error) {
    send({ type: "reply", id: request.id, ok: false, error: hostError(error), memory: memory() });
  } finally {
    running.delete(request.id);
  }
}

process.on("message", (request: HostRequest) => void handle(request));
process.on("disconnect", () => process.exit(0)); // the agent is gone
