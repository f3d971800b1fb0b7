#!/usr/bin/env node
// `baton` executable: checks the Node version, then runs the TypeScript CLI directly
// (Node's type stripping; no build step).
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `baton needs Node.js 24 or newer (this is ${process.version}).\n` +
      "In the Baton repository, run `source scripts/node-env.sh` to put Node 24 on PATH.\n",
  );
  process.exit(1);
}
await import("../src/main.ts");
