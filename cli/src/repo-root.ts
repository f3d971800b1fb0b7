import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The Baton repository root: the nearest folder above this file holding `services/` and
 * `package.json` (normally two levels up from `cli/src`).
 * @throws Error when no such folder exists (the CLI was copied out of the repository).
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "services")) && existsSync(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Baton repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
