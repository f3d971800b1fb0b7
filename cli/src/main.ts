#!/usr/bin/env node
// The `baton` CLI entry point: parse, run one command, exit with its code (see exit-codes.ts).
import { runCli } from "./program.ts";

const code = await runCli(process.argv);
process.exitCode = code;
// Give pending output a moment, then exit even if a handle (a socket, a timer) lingers.
setTimeout(() => process.exit(code), 500).unref();
