import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";

/** File formats the SQL engine can load (DuckDB `read_csv_auto` / `read_json_auto` / `read_parquet`). */
export type DatasetFormat = "csv" | "json" | "parquet";

/** One dataset of the catalog: loaded into a DuckDB table named `name` at start-up. */
export interface DatasetSpec {
  /** SQL table name: `^[a-z_][a-z0-9_]*$` (lower case so it never needs quoting), e.g. `seattle_weather`. */
  readonly name: string;
  /** Absolute path of the data file. */
  readonly file: string;
  readonly format: DatasetFormat;
  /** One or two sentences for a model: what a row is, units of the numeric columns. */
  readonly description: string;
}

/** Pattern every dataset name must match. */
export const DATASET_NAME = /^[a-z_][a-z0-9_]*$/;

const FORMAT_BY_EXTENSION: Readonly<Record<string, DatasetFormat>> = {
  ".csv": "csv",
  ".json": "json",
  ".parquet": "parquet",
};

/**
 * Absolute path of the `vega-datasets` package's `data/` folder.
 * @throws Error when the package is not installed or has no `data/` folder.
 */
export function vegaDataDir(): string {
  // The package's `exports` hide `package.json`; its entry point is `<root>/build/index.js`.
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  const dir = join(dirname(entry), "..", "data");
  if (!existsSync(join(dir, "seattle-weather.csv"))) throw new Error(`vega-datasets data folder not found at ${dir}`);
  return dir;
}

/**
 * The built-in catalog: five small vega-datasets tables that load cleanly with DuckDB's type
 * sniffing (dates come out as DATE, numbers as DOUBLE/BIGINT).
 * @throws Error when the `vega-datasets` package is not installed.
 */
export function defaultDatasets(): DatasetSpec[] {
  const dir = vegaDataDir();
  return [
    {
      name: "seattle_weather",
      file: join(dir, "seattle-weather.csv"),
      format: "csv",
      description:
        "Daily weather in Seattle, 2012-01-01 to 2015-12-31, one row per day: date (DATE), precipitation (mm), temp_max and temp_min (°C), wind (average wind speed; vega-datasets documents km/h), weather (drizzle, rain, sun, snow, fog).",
    },
    {
      name: "gapminder",
      file: join(dir, "gapminder.json"),
      format: "json",
      description:
        "Gapminder country indicators every 5 years, 1955–2005, one row per country and year: year, country, cluster (region id 0–5), pop (people), life_expect (years), fertility (children per woman).",
    },
    {
      name: "cars",
      file: join(dir, "cars.json"),
      format: "json",
      description:
        'Classic car models 1970–1982, one row per model: "Name", "Miles_per_Gallon", "Cylinders", "Displacement" (cu in), "Horsepower", "Weight_in_lbs", "Acceleration" (s 0–60 mph), "Year" (DATE, Jan 1 of the model year), "Origin" (USA, Europe, Japan). Column names are case-insensitive in SQL.',
    },
    {
      name: "penguins",
      file: join(dir, "penguins.json"),
      format: "json",
      description:
        'Palmer penguins, one row per bird: "Species", "Island", "Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Body Mass (g)", "Sex" (MALE, FEMALE, "." or NULL). Column names contain spaces: quote them with double quotes.',
    },
    {
      name: "iowa_electricity",
      file: join(dir, "iowa-electricity.csv"),
      format: "csv",
      description:
        "Iowa's yearly net electricity generation by source, 2001–2017: year (DATE, Jan 1), source (Fossil Fuels, Nuclear Energy, Renewables), net_generation (integer, EIA net generation; most likely thousand MWh).",
    },
  ];
}

/** Table name for a data file: base name without extension, lower-cased, other characters → `_` (e.g. `Seattle-Weather.csv` → `seattle_weather`). */
export function datasetNameFromFile(file: string): string {
  const stem = basename(file, extname(file))
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/^_+|_+$/g, "");
  const name = stem === "" ? "dataset" : stem;
  // SQL identifiers cannot start with a digit unquoted.
  return /^[0-9]/.test(name) ? `t_${name}` : name;
}

/**
 * Every `.csv`, `.json` and `.parquet` file directly inside `dir` (not recursive), sorted by file
 * name, named by {@link datasetNameFromFile}; description `"File <name> from <dir>"`.
 * @throws Error when `dir` does not exist or is not a directory.
 */
export function datasetsFromDir(dir: string): DatasetSpec[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`datasets folder "${root}" is not a directory`);
  const specs: DatasetSpec[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const format = FORMAT_BY_EXTENSION[extname(entry.name).toLowerCase()];
    if (!entry.isFile() || format === undefined) continue;
    specs.push({
      name: datasetNameFromFile(entry.name),
      file: join(root, entry.name),
      format,
      description: `File ${entry.name} from ${root}.`,
    });
  }
  return specs;
}

/** Options of {@link buildCatalog}. */
export interface CatalogOptions {
  /** Include {@link defaultDatasets}. Default true. */
  readonly includeDefaults?: boolean;
  /** Folder whose data files are added via {@link datasetsFromDir}. Default: none. */
  readonly datasetsDir?: string;
  /** Further datasets, added last. */
  readonly extraDatasets?: readonly DatasetSpec[];
}

/**
 * Defaults, then the folder's files, then `extraDatasets`, validated.
 * @throws Error on an invalid name (see {@link DATASET_NAME}), a relative or missing file, or a
 *   duplicate name (names are lower case, so SQL's case-insensitive names cannot collide otherwise).
 */
export function buildCatalog(options: CatalogOptions = {}): DatasetSpec[] {
  const all = [
    ...(options.includeDefaults === false ? [] : defaultDatasets()),
    ...(options.datasetsDir === undefined ? [] : datasetsFromDir(options.datasetsDir)),
    ...(options.extraDatasets ?? []),
  ];
  const seen = new Map<string, string>();
  for (const spec of all) {
    if (!DATASET_NAME.test(spec.name)) throw new Error(`invalid dataset name "${spec.name}": must match ${DATASET_NAME}`);
    if (!isAbsolute(spec.file)) throw new Error(`dataset "${spec.name}": file "${spec.file}" is not an absolute path`);
    if (!existsSync(spec.file)) throw new Error(`dataset "${spec.name}": file "${spec.file}" does not exist`);
    const other = seen.get(spec.name);
    if (other !== undefined) throw new Error(`duplicate dataset name "${spec.name}" (${other} and ${spec.file})`);
    seen.set(spec.name, spec.file);
  }
  return all;
}
