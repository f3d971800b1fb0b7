import { agentsListCommand, agentsRemoveCommand, agentsShowCommand } from "./commands/agents.ts";
import { approvalsDecideCommand, approvalsListCommand, approvalsShowCommand } from "./commands/approvals.ts";
import { authCredsCommand, authInitCommand } from "./commands/auth.ts";
import { auditListCommand, auditVerifyCommand } from "./commands/audit.ts";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { cancelCommand } from "./commands/cancel.ts";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import pkg from "../package.json" with { type: "json" };
import { CliError, errorText } from "./cli-error.ts";
import type { CommandContext } from "./commands/context.ts";
import { dlqListCommand, dlqPurgeCommand, dlqReplayCommand, dlqShowCommand } from "./commands/dlq.ts";
import { resultCommand } from "./commands/result.ts";
import { runCommand } from "./commands/run.ts";
import { submitCommand } from "./commands/submit.ts";
import { upCommand } from "./commands/up.ts";
import { watchCommand } from "./commands/watch.ts";
import { EXIT, type ExitCode } from "./exit-codes.ts";
import { type Output, processOutput } from "./output.ts";
import { issuesOf } from "./submission.ts";

const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

const EXIT_HELP = `
Exit codes:
  0    success (task completed)
  1    task failed, or NATS / the local stack unavailable
  2    invalid submission (checked locally, or rejected by the supervisor) or bad usage
  3    no outcome for the task (baton result), no such dead letter (baton dlq show/replay)
  124  timed out waiting (baton run / watch --timeout-ms)
  130  interrupted (Ctrl-C)

Quickstart:
  baton run --up --plan examples/seattle-weather-brief.json`;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number");
  return n;
}

/** The credentials `baton up` wrote for `role` under the current folder, when present. */
function localCreds(role: "client" | "operator"): string | undefined {
  const file = resolve(".baton", "auth", "creds", `${role}.creds`);
  return existsSync(file) ? file : undefined;
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 65_535) throw new InvalidArgumentError("must be a TCP port (1-65535)");
  return n;
}

/**
 * Builds the `baton` commander program. Each action stores its exit code in `exit.code`
 * instead of exiting, so {@link runCli} decides how the process ends.
 */
export function createProgram(exit: { code: ExitCode }): Command {
  const program = new Command("baton")
    .description("Baton: multi-agent orchestration over NATS JetStream — start the stack, submit tasks, follow them, read results.")
    .version(pkg.version)
    .addOption(new Option("--nats <url>", "NATS server URL(s), comma-separated").env("NATS_URL").default(DEFAULT_NATS_URL))
    .addOption(
      new Option("--creds <file>", "NATS credentials file (default: .baton/auth/creds/<client|operator>.creds when present)").env(
        "NATS_CREDS",
      ),
    )
    .option("--json", "machine-readable output: one JSON object per line", false)
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_HELP)
    .exitOverride();

  const context = (command: Command): CommandContext => {
    const opts = command.optsWithGlobals<{ nats: string; json: boolean; creds?: string }>();
    const source = program.getOptionValueSource("nats");
    // An empty NATS_URL (`NATS_URL=` in a shell) counts as unset.
    const given = (source === "cli" || source === "env") && opts.nats.trim() !== "";
    const creds = opts.creds?.trim() ? opts.creds : undefined;
    return {
      natsUrl: given ? opts.nats : DEFAULT_NATS_URL,
      natsUrlGiven: given,
      output: processOutput(opts.json),
      credsFor: (role) => creds ?? localCreds(role),
    };
  };

  program
    .command("up")
    .description("start the local stack in the foreground: nats-server (JetStream) + the services; Ctrl-C stops it")
    .option("--data-dir <dir>", "data folder; nats-server stores JetStream in <dir>/nats", ".baton")
    .option("--no-nats", "start no nats-server: use --nats / NATS_URL")
    .option("--port <port>", "port of the nats-server started (default 4222)", port)
    .option("--raw-logs", "print the services' pino JSON log lines unchanged")
    .option("--log-level <level>", "LOG_LEVEL of the services (trace|debug|info|warn|error)")
    .option("--agent <dir>", "also start the agent in this folder (its package.json main, default src/main.ts); repeatable", collect)
    .option("--mcp <config>", "also start an MCP agent with this config file (see examples/mcp); repeatable", collect)
    .action(async (flags, command: Command) => {
      exit.code = await upCommand(context(command), flags);
    });

  const auth = program
    .command("auth")
    .description("authentication on the bus: a deployment's keys, the nats-server config and each role's credentials");
  auth
    .command("init")
    .description("create (or reuse) the keys, write nats-server.conf (loopback, JetStream, JWT auth) and credentials for every role")
    .option("--dir <dir>", "the deployment folder", join(".baton", "auth"))
    .option("--listen <host:port>", "where nats-server listens (loopback unless told otherwise)", "127.0.0.1:4222")
    .option("--http <host:port>", "where its monitoring endpoint listens", "127.0.0.1:8222")
    .option("--store-dir <dir>", "JetStream's store folder in the config (default <dir>/../nats)")
    .option("--agent <name>", "also mint credentials for this agent type; repeatable", collect)
    .action(async (flags, command: Command) => {
      exit.code = await authInitCommand(context(command), flags);
    });
  auth
    .command("creds")
    .description("mint credentials for one role: supervisor | synthesizer | agent --agent <name> | client | operator")
    .argument("<role>", "supervisor, synthesizer, agent, client or operator")
    .option("--dir <dir>", "the deployment folder", join(".baton", "auth"))
    .option("--agent <name>", "the agent type (role agent)")
    .option("--name <name>", "a name for a client or operator's own credentials")
    .option("--out <file>", "write them here (mode 0600) instead of printing them")
    .option("--expires-in-s <n>", "lifetime in seconds (default: unlimited)", positiveInt)
    .action(async (role: string, flags, command: Command) => {
      exit.code = await authCredsCommand(context(command), role, flags);
    });

  const agents = program
    .command("agents")
    .description("the registered agent types: their cards (tools, risk tiers) and live replicas")
    .action(async (_flags, command: Command) => {
      exit.code = await agentsListCommand(context(command));
    });
  agents
    .command("show")
    .description("one agent's card: description, tools with risk tier, idempotency, timeout and input schema; live replicas")
    .argument("<name>", "the agent type")
    .action(async (name: string, _flags, command: Command) => {
      exit.code = await agentsShowCommand(context(command), name);
    });
  agents
    .command("remove")
    .description("deregister an agent type (delete its card; requires --yes)")
    .argument("<name>", "the agent type")
    .option("--yes", "really remove it")
    .action(async (name: string, flags: { yes?: boolean }, command: Command) => {
      exit.code = await agentsRemoveCommand(context(command), name, flags);
    });

  program
    .command("submit")
    .description("validate and publish a task; prints its taskId (does not wait)")
    .argument("[goal]", "the task's goal (overrides the plan file's goal)")
    .option("--plan <file>", "JSON file: a submission {goal, plan} or a bare plan {steps: [...]}")
    .option("--task-id <id>", "task id (idempotency key); default: the file's, else a new UUID")
    .option("--timeout-ms <n>", "the task's wall-clock limit in ms (enforced by the supervisor)", positiveInt)
    .action(async (goal: string | undefined, flags, command: Command) => {
      exit.code = await submitCommand(context(command), goal, flags);
    });

  program
    .command("cancel")
    .description("cancel a task: it fails with CANCELLED and its in-flight steps are aborted")
    .argument("<taskId>", "the task to cancel")
    .option("--reason <text>", "why (recorded in the task's error)")
    .action(async (taskId: string, flags: { reason?: string }, command: Command) => {
      exit.code = await cancelCommand(context(command), taskId, flags);
    });

  program
    .command("watch")
    .description("print a task's events from the beginning until it completes (exit 0) or fails (exit 1)")
    .argument("<taskId>", "the task to follow")
    .option("--timeout-ms <n>", "give up after n ms (exit 124); default: wait", positiveInt)
    .action(async (taskId: string, flags, command: Command) => {
      exit.code = await watchCommand(context(command), taskId, flags);
    });

  program
    .command("result")
    .description("print a task's outcome: the answer (exit 0), the failure (exit 1), or its state if none yet (exit 3)")
    .argument("<taskId>", "the task")
    .action(async (taskId: string, _flags, command: Command) => {
      exit.code = await resultCommand(context(command), taskId);
    });

  program
    .command("run")
    .description("submit a goal (planned by the LLM) or a plan, show live per-step progress, print the answer")
    .argument("[goal]", "the task's goal (overrides the plan file's goal)")
    .option("--plan <file>", "JSON file: a submission {goal, plan} or a bare plan {steps: [...]}; without it the LLM plans the goal")
    .option("--max-tokens <n>", "the task's token budget (LLM input + output, across all services)", positiveInt)
    .option("--max-cost-usd <usd>", "the task's cost budget in USD", positiveNumber)
    .option("--task-id <id>", "task id (idempotency key); default: the file's, else a new UUID")
    .option("--timeout-ms <n>", "how long to wait for the outcome, in ms (exit 124 after)", positiveInt, 120_000)
    .option("--up", "start a private local stack (nats-server + services) first, stop it afterwards")
    .option("--agent <dir>", "with --up: also start the agent in this folder; repeatable", collect)
    .option("--mcp <config>", "with --up: also start an MCP agent with this config file; repeatable", collect)
    .action(async (goal: string | undefined, flags, command: Command) => {
      exit.code = await runCommand(context(command), goal, flags);
    });

  const dlq = program
    .command("dlq")
    .description("dead letters: messages a consumer gave up on after max_deliver, kept 30 days in BATON_DLQ");
  dlq
    .command("list")
    .description("one line per dead letter: seq, time, original stream/subject, task/step, deliveries")
    .action(async (_flags, command: Command) => {
      exit.code = await dlqListCommand(context(command));
    });
  dlq
    .command("show")
    .description("a dead letter's metadata, headers and payload")
    .argument("<seq>", "the dead letter's sequence in BATON_DLQ (see dlq list)", positiveInt)
    .action(async (seq: number, _flags, command: Command) => {
      exit.code = await dlqShowCommand(context(command), seq);
    });
  dlq
    .command("replay")
    .description("publish a dead letter's original payload and headers on its original subject again, then delete it")
    .argument("[seq]", "the dead letter's sequence in BATON_DLQ", positiveInt)
    .option("--all", "replay every dead letter")
    .action(async (seq: number | undefined, flags: { all?: boolean }, command: Command) => {
      exit.code = await dlqReplayCommand(context(command), seq, flags);
    });
  dlq
    .command("purge")
    .description("delete every dead letter (requires --yes)")
    .option("--yes", "really delete them")
    .action(async (flags: { yes?: boolean }, command: Command) => {
      exit.code = await dlqPurgeCommand(context(command), flags);
    });

  const approvals = program
    .command("approvals")
    .description("tool calls waiting for a person (operator credentials): list, show, approve, deny")
    .option("--all", "every approval kept (30 days), not only the open ones")
    .action(async (flags: { all?: boolean }, command: Command) => {
      exit.code = await approvalsListCommand(context(command), flags);
    });
  approvals
    .command("list")
    .description("one line per open approval: id, task / step (agent), tools [risk tier], time left")
    .option("--all", "every approval kept (30 days), not only the open ones")
    .action(async (_flags, command: Command) => {
      exit.code = await approvalsListCommand(context(command), command.optsWithGlobals<{ all?: boolean }>());
    });
  approvals
    .command("show")
    .description("what an approval would allow: goal, instruction, each call's arguments (secrets redacted), provenance, status")
    .argument("<id>", "the approval id (a-…)")
    .action(async (id: string, _flags, command: Command) => {
      exit.code = await approvalsShowCommand(context(command), id);
    });
  for (const decision of ["approve", "deny"] as const) {
    approvals
      .command(decision)
      .description(
        decision === "approve"
          ? "let the step's calls run exactly as shown; exit 0 once the supervisor applied it"
          : "refuse the step's calls (explicit calls fail the step; an LLM agent gets the denial as the tool's result)",
      )
      .argument("<id>", "the approval id (a-…)")
      .option("--comment <text>", "why (recorded with the decision and in the audit ledger)")
      .option("--as <approver>", "who decides (default BATON_APPROVER, else <os user>@<host>)")
      .action(async (id: string, flags: { comment?: string; as?: string }, command: Command) => {
        exit.code = await approvalsDecideCommand(context(command), decision, id, flags);
      });
  }

  const audit = program
    .command("audit")
    .description("the audit ledger (BATON_AUDIT): a task's records, one line each (index, time, kind, source/actor, step, tool, status)")
    .argument("<taskId>", "the task whose records to list")
    .option("--stream <name>", "read this stream instead of BATON_AUDIT (e.g. a copy)")
    .action(async (taskId: string, flags: { stream?: string }, command: Command) => {
      exit.code = await auditListCommand(context(command), taskId, flags);
    });
  audit
    .command("verify")
    .description("recompute every record's hash and check every link of the chain: exit 0 intact, 1 at the first broken link")
    .option("--stream <name>", "verify this stream instead of BATON_AUDIT (e.g. a copy)")
    .option("--anchor <index:hash>", "also check that record <index> still has this hash (from an earlier verify); repeatable", collect)
    .action(async (_flags, command: Command) => {
      // --stream given after `verify` is parsed by `audit` (options of a parent are recognised after its subcommands).
      exit.code = await auditVerifyCommand(context(command), command.optsWithGlobals<{ stream?: string; anchor?: string[] }>());
    });

  return program;
}

/**
 * Runs the CLI on `argv` (as in `process.argv`) and returns the exit code. Expected failures
 * ({@link CliError}) are printed as messages (JSON `{"kind":"error",...}` with --json), never as
 * stack traces; usage errors give 2; anything unexpected gives 1 with its message.
 */
export async function runCli(argv: readonly string[]): Promise<ExitCode> {
  const exit: { code: ExitCode } = { code: EXIT.ok };
  const program = createProgram(exit);
  try {
    await program.parseAsync([...argv]);
    return exit.code;
  } catch (error) {
    const output = processOutput(argv.includes("--json"));
    if (error instanceof CommanderError) {
      return error.exitCode === 0 || error.code === "commander.helpDisplayed" || error.code === "commander.version"
        ? EXIT.ok
        : EXIT.invalid;
    }
    if (error instanceof CliError) {
      printError(output, error.message, error.exitCode, error.details, issuesOf(error));
      return error.exitCode;
    }
    printError(
      output,
      `unexpected error: ${errorText(error)}`,
      EXIT.failed,
      process.env.BATON_DEBUG ? [String((error as Error)?.stack)] : [],
    );
    return EXIT.failed;
  }
}

function printError(output: Output, message: string, exitCode: ExitCode, details: readonly string[], issues: unknown[] = []): void {
  if (output.json) {
    output.jsonLine({ kind: "error", exitCode, message, ...(issues.length ? { issues } : details.length ? { details } : {}) });
    return;
  }
  output.err(`baton: ${message}`);
  for (const line of details) output.err(line);
}
