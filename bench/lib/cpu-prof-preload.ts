/**
 * Loaded into every Baton process of the profile scenario with
 * `NODE_OPTIONS=--import <this file>` (bench only; no service code changes). SIGUSR2 starts the
 * V8 sampling profiler; the next SIGUSR2 stops it and writes `<BENCH_CPU_PROFILE_DIR>/<pid>.cpuprofile`,
 * so a profile covers exactly the measured window, not start-up or warm-up.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true;
      session.post("Profiler.enable", () =>
        session.post("Profiler.setSamplingInterval", { interval: 500 }, () => session.post("Profiler.start")),
      );
      return;
    }
    running = false;
    session.post("Profiler.stop", (error, result) => {
      if (!error) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
