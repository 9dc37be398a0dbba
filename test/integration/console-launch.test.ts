// `npm run console` where Electron's binary is not installed (this repository installs the electron
// package with ELECTRON_SKIP_BINARY_DOWNLOAD=1): the launcher, run as its own process, exits with 3 and
// says first what to do (the loopback host command), with Electron's raw error only after that.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { electronBinary, noElectronMessage } from "../../console/tools/launch.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("npm run console without Electron's binary", () => {
  it("exits 3, explaining first how to run the console in Chromium, Electron's error last", () => {
    // the premise: no Electron binary here (types only); were one installed, this launcher would start it
    const bin = electronBinary();
    expect(bin, "this test expects the electron package without its binary").toHaveProperty("missing");
    const raw = (bin as { missing: string }).missing;
    const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "console/tools/launch.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(3);
    const out = r.stderr;
    expect(out.startsWith("plantroot console: the Electron app cannot start on this machine.")).toBe(true);
    const how = out.indexOf("npm run console:host -- --data-dir");
    const rawAt = out.indexOf(raw);
    expect(how).toBeGreaterThan(0);
    expect(rawAt).toBeGreaterThan(how);
    expect(out.trimEnd().endsWith(`(Electron's own error, for reference: ${raw})`)).toBe(true);
    expect(r.stdout).toBe("");
  });

  it("puts the explanation before any raw error text", () => {
    const m = noElectronMessage("spawn ENOENT something");
    expect(m.indexOf("npm run console:host")).toBeLessThan(m.indexOf("spawn ENOENT something"));
    expect(m).toContain("ELECTRON_SKIP_BINARY_DOWNLOAD");
  });
});
