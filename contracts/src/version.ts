import { z } from "zod";

/** The bus schema version this release reads and writes. Bumped on breaking changes. */
export const SCHEMA_VERSION = 1 as const;

/** The version literal every bus message carries as `schemaVersion`. */
export const SchemaVersion = z.literal(SCHEMA_VERSION);
