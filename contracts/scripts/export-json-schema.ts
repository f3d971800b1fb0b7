// Writes contracts/json-schema/<name>.json for every public message.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PUBLIC_SCHEMAS, publicJsonSchema } from "../src/index.ts";

const outDir = join(dirname(fileURLToPath(import.meta.url)), "..", "json-schema");
mkdirSync(outDir, { recursive: true });
for (const name of Object.keys(PUBLIC_SCHEMAS) as (keyof typeof PUBLIC_SCHEMAS)[]) {
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(publicJsonSchema(name), null, 2)}\n`);
  console.log(`wrote json-schema/${name}.json`);
}
