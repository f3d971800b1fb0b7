// Builds @baton/agent to JavaScript with type declarations and packs it into an installable
// tarball: <repository>/dist/baton-agent-<version>.tgz (`npm run sdk:pack` at the root).
//
// The SDK is one package for its users, but in this repository it builds on the workspace
// packages @baton/contracts, core, tools, llm and mcp (TypeScript run by Node's type stripping,
// which Node refuses inside node_modules). So the build compiles the SDK together with them
// (tsc, packages/agent/tsconfig.build.json), rewrites their `@baton/*` imports to relative paths
// (tsc-alias), and writes a package.json whose dependencies are the third-party packages those
// sources import, at the versions the workspace pins. It fails when the built JavaScript imports
// a package that no bundled workspace declares.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(pkgDir, "..", "..");
const out = join(pkgDir, "dist");
const bin = (name: string) => join(root, "node_modules", ".bin", name);

/** The workspace packages compiled into the SDK (their folders), besides packages/agent itself. */
const BUNDLED = ["contracts", "packages/core", "packages/tools", "packages/llm", "packages/mcp", "packages/audit"];
/** Installed by the user's project next to the SDK (one copy of zod for their schemas and ours). */
const PEERS = new Set(["zod"]);
/** Loaded by name at run time, not imported: pino's pretty transport (LOG_PRETTY=true). */
const LOADED_BY_NAME = ["pino-pretty"];

interface Manifest {
  name: string;
  version: string;
  description?: string;
  keywords?: string[];
  license?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})`);
}

/** Every `*.js` file under `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".js"))
    .map((e) => join(e.parentPath, e.name));
}

/** The package name of a bare import specifier (`@scope/name/sub` → `@scope/name`), or undefined for a relative or built-in one. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:") || builtinModules.includes(specifier)) {
    return undefined;
  }
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const manifest = readManifest(pkgDir);
const declared = new Map<string, string>();
for (const dir of [".", ...BUNDLED.map((b) => join("..", "..", b))]) {
  for (const [name, version] of Object.entries(readManifest(join(pkgDir, dir)).dependencies ?? {})) {
    if (name.startsWith("@baton/")) continue;
    const known = declared.get(name);
    if (known && known !== version)
      throw new Error(`${name} is pinned at ${known} and ${version} in the bundled workspaces: use one version`);
    declared.set(name, version);
  }
}

rmSync(out, { recursive: true, force: true });
run(process.execPath, [bin("tsc"), "-p", "tsconfig.build.json"], pkgDir);
run(process.execPath, [bin("tsc-alias"), "-p", "tsconfig.build.json", "--resolve-full-paths"], pkgDir);

// Every package the built code imports must be a declared dependency (or a peer).
const imported = new Set<string>(LOADED_BY_NAME);
// Static imports and re-exports start a line in tsc's output (an example inside a doc comment
// does not: it follows " * "); dynamic imports may appear anywhere.
const importPattern = /^(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
for (const file of jsFiles(out)) {
  for (const match of readFileSync(file, "utf8").matchAll(importPattern)) {
    const name = packageOf(match[1] ?? match[2] ?? "");
    if (!name) continue;
    if (name.startsWith("@baton/")) throw new Error(`${relative(out, file)} still imports ${name}: tsc-alias did not rewrite it`);
    if (!declared.has(name) && !PEERS.has(name))
      throw new Error(`${relative(out, file)} imports ${name}, which no bundled workspace declares`);
    imported.add(name);
  }
}

const entry = (name: string) => ({ types: `./packages/agent/src/${name}.d.ts`, default: `./packages/agent/src/${name}.js` });
const published = {
  name: manifest.name,
  version: manifest.version,
  description: manifest.description,
  keywords: manifest.keywords,
  license: manifest.license,
  type: "module",
  engines: manifest.engines,
  exports: { ".": entry("index"), "./mcp": entry("mcp") },
  dependencies: Object.fromEntries(
    [...imported]
      .filter((n) => !PEERS.has(n))
      .sort()
      .map((n) => [n, declared.get(n)]),
  ),
  peerDependencies: Object.fromEntries([...PEERS].map((n) => [n, `^${declared.get(n) ?? "4"}`])),
};
writeFileSync(join(out, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
copyFileSync(join(pkgDir, "README.md"), join(out, "README.md"));

const destination = join(root, "dist");
mkdirSync(destination, { recursive: true });
const packed = spawnSync("npm", ["pack", "--json", "--pack-destination", destination], { cwd: out, encoding: "utf8" });
if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
const [info] = JSON.parse(packed.stdout) as { filename: string; size: number; entryCount: number }[];
if (!info) throw new Error("npm pack reported nothing");
console.log(`packed ${join(destination, info.filename)} (${info.entryCount} files, ${(info.size / 1024).toFixed(0)} KiB)`);
