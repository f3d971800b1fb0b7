import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalNatsServer, startLocalNatsServer } from "@baton/core";
import { type Exit, ROOT, spawnLogged } from "../../support/services.ts";

/** The processes a chaos run starts: the real supervisor and synthesizer, and the test-only effect agent. */
export type ChaosRole = "supervisor" | "synthesizer" | "effect-agent";

const SCRIPTS: Record<ChaosRole, string> = {
  supervisor: join(ROOT, "services", "supervisor", "src", "main.ts"),
  synthesizer: join(ROOT, "services", "synthesizer", "src", "main.ts"),
  "effect-agent": join(ROOT, "test", "chaos", "effect-agent.ts"),
};

/** The log line each role prints once it consumes. */
const READY: Record<ChaosRole, string> = {
  supervisor: "supervisor ready",
  synthesizer: "synthesizer ready",
  "effect-agent": "worker ready",
};

type LogLine = Record<string, unknown>;

/** One OS process of a role (a "generation" of a {@link ManagedService}). */
export interface ChaosProcess {
  readonly label: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly logs: LogLine[];
  /** Non-JSON output (stderr and stray stdout). */
  readonly stderr: string[];
  readonly exited: Promise<Exit>;
  /** True once {@link ManagedService.kill} SIGKILLed it (so its exit is not a crash). */
  killedByTest: boolean;
  alive(): boolean;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

function spawnChaosProcess(role: ChaosRole, label: string, env: Record<string, string>): ChaosProcess {
  const logged = spawnLogged(SCRIPTS[role], label, env);
  const child = logged.process;
  return {
    ...logged,
    label,
    pid: child.pid ?? -1,
    killedByTest: false,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/**
 * One logical service (e.g. "effect-agent #2") across its restarts: each restart is a new OS
 * process (a generation). An exit the test did not cause is recorded as a crash and, while the
 * service is kept alive, restarted.
 */
export class ManagedService {
  readonly role: ChaosRole;
  readonly label: string;
  readonly generations: ChaosProcess[] = [];
  /** Exits the test did not cause (with the pid and how it ended). */
  readonly crashes: { pid: number; exit: Exit; at: number }[] = [];
  #env: () => Record<string, string>;
  #stopping = false;
  #restarting: Promise<void> | undefined;

  constructor(role: ChaosRole, label: string, env: () => Record<string, string>) {
    this.role = role;
    this.label = label;
    this.#env = env;
  }

  /** The newest generation. */
  get current(): ChaosProcess | undefined {
    return this.generations.at(-1);
  }

  /** True when the newest generation runs. */
  get up(): boolean {
    return this.current?.alive() ?? false;
  }

  /** Every log line of every generation. */
  allLogs(): LogLine[] {
    return this.generations.flatMap((g) => g.logs);
  }

  /** Spawns a new generation and waits until it consumes. */
  async start(): Promise<ChaosProcess> {
    const proc = spawnChaosProcess(this.role, `${this.label}[${this.generations.length}]`, this.#env());
    this.generations.push(proc);
    void proc.exited.then((exit) => {
      if (proc.killedByTest || this.#stopping) return;
      this.crashes.push({ pid: proc.pid, exit, at: Date.now() });
      if (this.current === proc) this.#restarting ??= this.#restartSoon();
    });
    await proc.waitForLog((l) => l.msg === READY[this.role], 60_000);
    return proc;
  }

  async #restartSoon(): Promise<void> {
    try {
      await this.start();
    } catch {
      // recorded in the crash list / next generation's stderr; the test's assertions report it
    } finally {
      this.#restarting = undefined;
    }
  }

  /** SIGKILLs the newest generation (if it runs) and waits for its exit. @returns its pid. */
  async kill(): Promise<number | undefined> {
    const proc = this.current;
    if (!proc?.alive()) return undefined;
    proc.killedByTest = true;
    proc.process.kill("SIGKILL");
    await proc.exited;
    return proc.pid;
  }

  /** Waits for an automatic restart in progress, if any. */
  async settled(): Promise<void> {
    await this.#restarting;
  }

  /** SIGTERMs the newest generation (SIGKILL after 5 s) and keeps it down. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#restarting?.catch(() => undefined);
    for (const proc of this.generations) {
      if (!proc.alive()) continue;
      proc.process.kill("SIGTERM");
      const timer = setTimeout(() => proc.process.kill("SIGKILL"), 5_000);
      await proc.exited;
      clearTimeout(timer);
    }
  }
}

/** Settings every chaos process gets (the caller's override them). */
export function chaosEnv(natsUrl: string, effectsFile: string): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    LOG_LEVEL: "info",
    // Fast redelivery of a dead worker's step; heartbeats every ack_wait / 3 keep live ones.
    WORK_ACK_WAIT_MS: "2000",
    // Work a killed nats-server lost after acking it is dispatched again after 4 s.
    DISPATCH_STALE_MS: "4000",
    SHUTDOWN_GRACE_MS: "300",
    WORKER_CONCURRENCY: "2",
    EFFECTS_FILE: effectsFile,
    // The soak measures delivery under kills; its effect tool is a `write` that would otherwise wait
    // for a person (approvals under restarts are tested in test/integration/approvals.test.ts).
    APPROVAL_POLICY_JSON: JSON.stringify({ tiers: [] }),
    // No LLM and no trace export, whatever the developer's shell has.
    LLM_PROVIDER: "",
    ANTHROPIC_API_KEY: "",
    ANTHROPIC_BASE_URL: "",
    OPENAI_API_KEY: "",
    OPENAI_BASE_URL: "",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
  };
}

/** Options of {@link startChaosStack}. */
export interface ChaosStackOptions {
  /** Replicas of the effect agent (the data agent's stand-in). Default 3. */
  readonly agents?: number;
  /** Extra environment for every process. */
  readonly env?: Record<string, string>;
}

/** A private nats-server (file storage), the supervisor, the synthesizer and effect-agent replicas. */
export interface ChaosStack {
  /** The running server (replaced by {@link restartNats}). */
  nats: LocalNatsServer;
  readonly url: string;
  readonly storeDir: string;
  readonly effectsFile: string;
  readonly supervisor: ManagedService;
  readonly synthesizer: ManagedService;
  readonly agents: ManagedService[];
  /** Every managed service. */
  readonly services: ManagedService[];
  /** SIGKILLs nats-server and waits for its exit. */
  killNats(): Promise<void>;
  /** Starts nats-server again on the same port with the same store folder. */
  restartNats(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a chaos stack and waits until every process consumes. */
export async function startChaosStack(options: ChaosStackOptions = {}): Promise<ChaosStack> {
  const storeDir = mkdtempSync(join(tmpdir(), "baton-chaos-"));
  const effectsFile = join(storeDir, "effects.log");
  writeFileSync(effectsFile, "");
  const natsDir = join(storeDir, "nats");
  let nats = await startLocalNatsServer({ storeDir: natsDir });
  const env = () => ({ ...chaosEnv(nats.url, effectsFile), ...options.env });
  const supervisor = new ManagedService("supervisor", "supervisor", env);
  const synthesizer = new ManagedService("synthesizer", "synthesizer", env);
  const agents = Array.from({ length: options.agents ?? 3 }, (_, i) => new ManagedService("effect-agent", `effect-agent#${i + 1}`, env));
  const services = [supervisor, synthesizer, ...agents];
  // The supervisor first: it provisions the streams and consumers the others use too (each
  // service provisions idempotently, but concurrent first-time creation only adds noise).
  await supervisor.start();
  await Promise.all([synthesizer, ...agents].map((s) => s.start()));
  const stack: ChaosStack = {
    nats,
    url: nats.url,
    storeDir,
    effectsFile,
    supervisor,
    synthesizer,
    agents,
    services,
    async killNats() {
      await nats.kill();
    },
    async restartNats() {
      nats = await startLocalNatsServer({ storeDir: natsDir, port: nats.port });
      stack.nats = nats;
    },
    async stop() {
      await Promise.all(services.map((s) => s.stop()));
      await nats.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return stack;
}
