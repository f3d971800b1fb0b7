import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultServices, discoverServices, serviceByName } from "@baton/cli";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/services.ts";

const scratch = mkdtempSync(join(tmpdir(), "baton-catalog-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function service(name: string, baton: unknown, withMain = true): void {
  mkdirSync(join(scratch, "services", name, "src"), { recursive: true });
  writeFileSync(join(scratch, "services", name, "package.json"), JSON.stringify({ name, ...(baton === undefined ? {} : { baton }) }));
  if (withMain) writeFileSync(join(scratch, "services", name, "src", "main.ts"), "");
}

describe("service discovery: a new agent is one new folder", () => {
  it("finds this repository's services by their manifests, control plane first", () => {
    const found = discoverServices(ROOT);
    expect(found[0]).toMatchObject({ name: "supervisor", role: "supervisor" });
    expect(found.at(-1)).toMatchObject({ name: "synthesizer", role: "synthesizer" });
    expect(found.filter((s) => s.role === "agent").length).toBeGreaterThanOrEqual(3);
    expect(defaultServices(ROOT).every((s) => s.autostart)).toBe(true);
  });

  it("picks up a new folder, skips folders without a manifest or main, and names a bad manifest", () => {
    service("zeta-agent", { role: "agent" });
    service("supervisor", { role: "supervisor" });
    service("notes", undefined);
    service("half-agent", { role: "agent" }, false);
    service("lazy-agent", { role: "agent", autostart: false });
    expect(discoverServices(scratch).map((s) => s.name)).toEqual(["supervisor", "lazy-agent", "zeta-agent"]);
    expect(defaultServices(scratch).map((s) => s.name)).toEqual(["supervisor", "zeta-agent"]);
    expect(() => serviceByName("nope", scratch)).toThrow(/there are: supervisor, lazy-agent, zeta-agent/);
    service("broken-agent", { role: "worker" });
    expect(() => discoverServices(scratch)).toThrow(/broken-agent.*invalid "baton" field/);
  });
});
