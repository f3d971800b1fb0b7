import { defineTool, ToolError } from "@baton/agent";
import { z } from "zod";
import { type Airport, greatCircleKm, initialBearingDeg } from "./airports.ts";

const Code = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9]{3,4}$/, "an airport code of 3-4 letters or digits, e.g. SEA");

/** Sort key: international airports first, then other 3-letter codes, then the rest. */
function rank(a: Airport): number {
  const international = /\b(intl|international)\b/i.test(a.name);
  return (a.iata.length === 3 ? 0 : 2) + (international ? 0 : 1);
}

/** `find_airports`: search by city, name or code, optionally within one state. */
export function findAirportsTool(airports: readonly Airport[]) {
  return defineTool({
    name: "find_airports",
    description:
      "Finds US airports in the FAA list by city, airport name or code (case-insensitive substring), optionally within one " +
      "state. Returns { total, airports: [{ iata, name, city, state, latitude, longitude }] }, international airports " +
      "first, then other 3-letter codes. Use it to get an airport's code and coordinates.",
    input: z.strictObject({
      query: z.string().trim().min(2).max(80).describe("City, airport name or code, e.g. 'Seattle' or 'O'Hare'."),
      state: z.string().trim().toUpperCase().length(2).optional().describe("Two-letter state code, e.g. 'WA'."),
      limit: z.number().int().min(1).max(50).default(10).describe("Most airports to return (1-50)."),
    }),
    riskTier: "read",
    idempotent: true,
    timeoutMs: 2_000,
    display: { format: "table", path: "/airports" },
    async execute({ query, state, limit }) {
      const q = query.toLowerCase();
      const found = airports
        .filter((a) => (!state || a.state === state) && [a.city, a.name, a.iata].some((v) => v.toLowerCase().includes(q)))
        .sort((a, b) => rank(a) - rank(b) || a.iata.localeCompare(b.iata));
      return {
        total: found.length,
        airports: found
          .slice(0, limit)
          .map(({ iata, name, city, state: st, latitude, longitude }) => ({ iata, name, city, state: st, latitude, longitude })),
      };
    },
  });
}

/** `airport_distance`: great-circle distance and initial bearing between two airports. */
export function airportDistanceTool(airports: readonly Airport[]) {
  const byCode = new Map(airports.map((a) => [a.iata, a]));
  const lookup = (code: string, field: string): Airport => {
    const airport = byCode.get(code);
    if (!airport) throw new ToolError("INVALID_ARGUMENTS", `${field}: no airport with code "${code}" (find it with find_airports)`);
    return airport;
  };
  return defineTool({
    name: "airport_distance",
    description:
      "Great-circle distance between two airports given by code (haversine on the mean Earth radius). Returns { from, to, " +
      "from_name, to_name, km, miles, nautical_miles, initial_bearing_deg }.",
    input: z.strictObject({ from: Code, to: Code }),
    riskTier: "compute",
    idempotent: true,
    timeoutMs: 1_000,
    async execute({ from, to }) {
      const a = lookup(from, "from");
      const b = lookup(to, "to");
      const km = greatCircleKm(a, b);
      const round = (n: number) => Math.round(n * 10) / 10;
      return {
        from: a.iata,
        to: b.iata,
        from_name: `${a.name}, ${a.city} ${a.state}`,
        to_name: `${b.name}, ${b.city} ${b.state}`,
        km: round(km),
        miles: round(km / 1.609344),
        nautical_miles: round(km / 1.852),
        initial_bearing_deg: round(initialBearingDeg(a, b)),
      };
    },
  });
}
