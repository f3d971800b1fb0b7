import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./services.ts";

/** What a `baton` run printed and how it exited. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `baton` CLI (`node cli/src/main.ts`) against `natsUrl`, with `creds` when given,
 * from the repository root, no colours; SIGKILLed after `timeoutMs` (default 60,000).
 */
export function runBaton(
  args: readonly string[],
  options: { natsUrl: string; creds?: string | undefined; env?: Record<string, string>; timeoutMs?: number },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "cli", "src", "main.ts"), "--nats", options.natsUrl, ...(options.creds ? ["--creds", options.creds] : []), ...args],
      {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: "1", NATS_URL: "", NATS_CREDS: "", ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
