/**
 * Restate is a peer of the benchmark, not a dependency of the product: it is installed on demand,
 * pinned, into a git-ignored cache folder (bench/.peers/restate/) with `npm install --prefix`, once,
 * and reused by later runs. No package.json or package-lock.json of the repository is touched.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "../lib/stack.ts";

/** The pinned versions (the only place they are set). */
export const RESTATE_SERVER_VERSION = "1.7.12";
export const RESTATE_SDK_VERSION = "1.17.2";

/** Where the peer is installed (git-ignored). */
export const RESTATE_PEER_DIR = join(ROOT, "bench", ".peers", "restate");

/** Longest time the one-off `npm install` may take, in ms. */
const INSTALL_TIMEOUT_MS = 300_000;

/** An installed Restate: the server binary and the SDK's ESM entry point, both absolute paths. */
export interface RestateInstall {
  readonly serverBinary: string;
  readonly sdkEntry: string;
  readonly serverVersion: string;
  readonly sdkVersion: string;
}

const modules = join(RESTATE_PEER_DIR, "node_modules", "@restatedev");

function installedVersion(pkg: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The cached install, when it is complete and at the pinned versions. */
function cached(): RestateInstall | undefined {
  // The binary comes from the optional dependency matching this platform (as the package's own launcher resolves it).
  const serverBinary = join(modules, `restate-server-${platform()}-${arch()}`, "bin", "restate-server");
  const sdkEntry = join(modules, "restate-sdk", "dist", "index.js");
  if (installedVersion("restate-server") !== RESTATE_SERVER_VERSION || installedVersion("restate-sdk") !== RESTATE_SDK_VERSION)
    return undefined;
  if (!existsSync(serverBinary) || !existsSync(sdkEntry)) return undefined;
  return { serverBinary, sdkEntry, serverVersion: RESTATE_SERVER_VERSION, sdkVersion: RESTATE_SDK_VERSION };
}

/** The npm next to the running node (Node 24 from scripts/node-env.sh), else the one on PATH. */
function npmCommand(): string {
  const beside = join(dirname(process.execPath), "npm");
  return existsSync(beside) ? beside : "npm";
}

function npmInstall(): Promise<void> {
  const args = [
    "install",
    "--prefix",
    RESTATE_PEER_DIR,
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    // No install scripts: the server binary arrives as an optional dependency; the only script is a usage-analytics ping.
    "--ignore-scripts",
    "--fetch-retries=1",
    "--fetch-timeout=30000",
    `@restatedev/restate-server@${RESTATE_SERVER_VERSION}`,
    `@restatedev/restate-sdk@${RESTATE_SDK_VERSION}`,
  ];
  mkdirSync(RESTATE_PEER_DIR, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(npmCommand(), args, {
      cwd: RESTATE_PEER_DIR,
      env: { ...process.env, SCARF_ANALYTICS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4_000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run npm: ${error.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`npm install failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${npmErrorSummary(output)}`));
    });
  });
}

/** The gist of npm's error output: its error code and first message line (not the stack or the object dump). */
function npmErrorSummary(output: string): string {
  const lines = output
    .split("\n")
    .filter((l) => l.startsWith("npm error "))
    .map((l) => l.slice("npm error ".length));
  const code = lines.find((l) => l.startsWith("code "))?.slice("code ".length);
  const message = lines.find((l) => l.trim() !== "" && !/^(code|syscall|errno|path|\s|[{}])/.test(l));
  const summary = [code, message].filter(Boolean).join(": ");
  return summary || output.trim().split("\n").slice(-3).join(" | ");
}

let installing: Promise<RestateInstall> | undefined;

/**
 * The Restate install, installing it first when the cache is missing or at other versions.
 * Rejects with a plain reason (e.g. offline) — the scenarios then report "not run". One attempt per bench process.
 */
export function installRestate(log: (line: string) => void): Promise<RestateInstall> {
  installing ??= (async () => {
    const found = cached();
    if (found) return found;
    log(
      `  installing Restate (restate-server ${RESTATE_SERVER_VERSION}, restate-sdk ${RESTATE_SDK_VERSION}) into bench/.peers/restate/ (once)…`,
    );
    await npmInstall();
    const installed = cached();
    if (!installed) {
      throw new Error(
        `npm install finished but no restate-server ${RESTATE_SERVER_VERSION} binary for ${platform()}-${arch()} or restate-sdk ${RESTATE_SDK_VERSION} is in ${RESTATE_PEER_DIR}`,
      );
    }
    return installed;
  })();
  return installing;
}
