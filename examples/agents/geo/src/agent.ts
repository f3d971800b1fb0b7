import { defineAgent } from "@baton/agent";
import { loadAirports } from "./airports.ts";
import { airportDistanceTool, findAirportsTool } from "./tools.ts";

/** The `geo` agent: US airports and distances between them. The dataset is loaded once per replica. */
export const geoAgent = defineAgent({
  name: "geo",
  version: "1.0.0",
  description:
    "Knows US airports (the FAA list in vega-datasets: code, name, city, state, coordinates) and computes great-circle " +
    "distances between them. Use it to find an airport's code or location, or how far apart two airports are.",
  tools: (_env, { logger }) => {
    const airports = loadAirports();
    logger.info({ airports: airports.length }, "airports loaded");
    return [findAirportsTool(airports), airportDistanceTool(airports)];
  },
});
