import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parse } from "csv-parse/sync";

/** One airport of the FAA's list as vega-datasets ships it (`data/airports.csv`, 3,376 rows). */
export interface Airport {
  /** FAA location identifier, e.g. `SEA` (IATA for the larger airports). */
  readonly iata: string;
  readonly name: string;
  readonly city: string;
  /** Two-letter state code, e.g. `WA`. */
  readonly state: string;
  readonly country: string;
  /** Degrees, WGS 84. */
  readonly latitude: number;
  readonly longitude: number;
}

/** The airports, loaded once from the `vega-datasets` npm package. @throws Error when the package or file is missing. */
export function loadAirports(): Airport[] {
  // The package's `exports` hide its files; its entry point is `<root>/build/index.js`.
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  const file = join(dirname(entry), "..", "data", "airports.csv");
  const rows = parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  return rows.map((r) => ({
    iata: r.iata ?? "",
    name: r.name ?? "",
    city: r.city ?? "",
    state: r.state ?? "",
    country: r.country ?? "",
    latitude: Number(r.latitude),
    longitude: Number(r.longitude),
  }));
}

/** Mean Earth radius in km (IUGG), as used by the haversine formula. */
export const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km between two points given in degrees (haversine formula). */
export function greatCircleKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing in degrees (0 = north, 90 = east) from `a` towards `b` along the great circle. */
export function initialBearingDeg(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const y = Math.sin((b.longitude - a.longitude) * rad) * Math.cos(b.latitude * rad);
  const x =
    Math.cos(a.latitude * rad) * Math.sin(b.latitude * rad) -
    Math.sin(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.cos((b.longitude - a.longitude) * rad);
  return (Math.atan2(y, x) / rad + 360) % 360;
}
