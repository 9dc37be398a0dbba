// The console's dry run runs in its own process on a temporary SoftHSM token directory: afterwards the
// console's real token store holds exactly the tokens it held before (no `dry-*` token), and the report
// it wrote is the dry run of this script (decoded root certificate, key attributes), signed as usual.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDryRun } from "../../ceremonies/engine/dry-run-report.js";
import { Registry } from "../../ceremonies/registry.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import { ConsoleLog } from "../../console/main/log.js";
import { ScriptPackages } from "../../console/main/scripts.js";
import { listTokens } from "../../console/main/tokens.js";
import { closeCast, enrollCast, type Person } from "../helpers/ceremony.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
const Q = "all(admin, witness) and 2 of officers";
let people: Map<string, Person>;
let registry: Registry;
let dataDir: string;

function script(registryHash: string): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-DRY-1",
    title: "Dry-run isolation",
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave", "erin"], auditor: ["kim"], custodian: [] },
    approvalTtlSeconds: 3600,
    tokens: {
      root: { label: "plantroot-root", access: "quorum" },
      appliance: { label: "appliance", access: "operator" },
    },
    logToken: "root",
    steps: [
      { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
      { id: "unlock", action: "token.unlock", requires: Q, params: { token: "root" } },
      {
        id: "root-key",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "root-g1", spec: "P-384", backup: "none" },
      },
      {
        id: "root-cert",
        action: "cert.root",
        requires: Q,
        params: {
          token: "root",
          key: "root-g1",
          subject: { commonName: "Dry Root G1", organization: "Plant Nord", country: "DE" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2046-01-01T00:00:00.000Z",
          output: "certs/root-g1.pem",
        },
      },
      { id: "open-app", action: "token.unlock", requires: "all(admin, witness)", params: { token: "appliance" } },
      {
        id: "subca-key",
        action: "key.generate",
        requires: Q,
        params: { token: "appliance", label: "subca-g1", spec: "P-256", backup: "none" },
      },
    ],
  };
}

/** Token labels in the store as a fresh process sees them (SoftHSM's own tool, not this process's cache). */
function storeLabels(): string[] {
  const out = execFileSync("softhsm2-util", ["--show-slots"], {
    env: { ...process.env, SOFTHSM2_CONF: sh.conf },
    encoding: "utf8",
  });
  return [...out.matchAll(/^\s*Label:\s*(.*?)\s*$/gm)].map((m) => m[1]!).filter((l) => l !== "");
}

beforeAll(async () => {
  const cast = await enrollCast(sh, [
    { id: "alice", name: "Alice Admin", roles: ["admin"] },
    { id: "bob", name: "Bob Witness", roles: ["witness"] },
    { id: "carol", name: "Carol Officer", roles: ["officer"] },
    { id: "dave", name: "Dave Officer", roles: ["officer"] },
    { id: "erin", name: "Erin Officer", roles: ["officer"] },
    { id: "kim", name: "Kim Auditor", roles: ["auditor"] },
    { id: "rita", name: "Rita Reviewer", roles: ["witness"] },
  ]);
  people = cast.people;
  registry = Registry.parse(cast.registry);
  sh.createToken("appliance", "app-pin");
  dataDir = mkdtempSync(join(tmpdir(), "console-dry-run-"));
  const pkg = join(dataDir, "scripts", "dry-1");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "script.json"), JSON.stringify(script(registry.hash), null, 2));
});

afterAll(() => {
  if (people) closeCast(people);
});

describe("console dry run", () => {
  it("runs on a throw-away SoftHSM: the console's token store is left exactly as it was", async () => {
    const before = storeLabels();
    expect(before).toContain("p-alice");
    expect(before).toContain("appliance");
    const scripts = new ScriptPackages(dataDir, sh.library, new ConsoleLog(dataDir, () => new Date()));
    const view = await scripts.dryRun("dry-1", registry);
    const after = storeLabels();
    expect(after.filter((l) => l.startsWith("dry-"))).toEqual([]);
    expect(after.sort()).toEqual(before.sort());
    // this process's view of the library agrees
    expect(listTokens(sh.library).filter((t) => t.label.startsWith("dry-"))).toEqual([]);

    // the report is the dry run of this script, made on other (temporary) tokens
    const report = parseDryRun(JSON.parse(readFileSync(join(dataDir, "scripts", "dry-1", "dry-run.json"), "utf8")));
    expect(report.scriptHash).toBe(view.scriptHash);
    expect(report.environment.tokens.root).toMatch(/^dry-[0-9a-f]{6}-root$/);
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["init", "simulated"],
      ["unlock", "simulated"],
      ["root-key", "simulated"],
      ["root-cert", "simulated"],
      ["open-app", "simulated"],
      ["subca-key", "simulated"],
    ]);
    const cert = report.steps.find((s) => s.id === "root-cert")!;
    expect(cert.tbs?.kind).toBe("certificate");
    expect(cert.tbs?.lines.map((l) => l.value).join("\n")).toContain("CN=Dry Root G1");
    const key = report.steps.find((s) => s.id === "root-key")!;
    expect(key.keyAttributes[0]).toMatchObject({ label: "root-g1", neverExtractable: true });
    expect(view.dryRun?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(view.missing).toEqual(["Alice Admin signs as author", "Rita Reviewer signs as reviewer"]);
  });

  it("refuses a second dry run (signatures cover the first) and reports a failing one with its reason", async () => {
    const scripts = new ScriptPackages(dataDir, sh.library, new ConsoleLog(dataDir, () => new Date()));
    await expect(scripts.dryRun("dry-1", registry)).rejects.toMatchObject({ kind: "not-allowed" });
    // a script the engine rejects before any token is touched keeps the engine's error kind
    const bad = join(dataDir, "scripts", "bad-1");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "script.json"), JSON.stringify({ ...script(registry.hash), surprise: true }));
    await expect(scripts.dryRun("bad-1", registry)).rejects.toMatchObject({ kind: "bad-script" });
    expect(existsSync(join(bad, "dry-run.json"))).toBe(false);
    // a failure inside the child process is reported with the child's message
    const broken = new ScriptPackages(
      dataDir,
      sh.library,
      new ConsoleLog(dataDir, () => new Date()),
      join(dataDir, "no-such-plantroot.mjs"),
    );
    const other = join(dataDir, "scripts", "dry-2");
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, "script.json"), JSON.stringify({ ...script(registry.hash), ceremonyId: "2026-DRY-2" }));
    await expect(broken.dryRun("dry-2", registry)).rejects.toMatchObject({ kind: "unavailable" });
    expect(storeLabels().filter((l) => l.startsWith("dry-"))).toEqual([]);
  });
});
