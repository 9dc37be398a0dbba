// `plantroot demo` on data dirs it did not finish making: one made by the older demo (root and SubCA
// bootstrapped on one token, no ceremony) keeps serving with a clear message; a first start killed in
// the middle of its ceremony is cleaned up and redone by the next start; a foreign dir is refused.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { DEMO_NAMES } from "../../appliance/demo.js";
import { HsmToken, useSoftHsm } from "../../hsm/index.js";
import { freePort } from "../helpers/acme-harness.js";
import { plantroot, spawnDemo, startDemo } from "../helpers/demo-process.js";

const ports = async () => [await freePort(), await freePort(), await freePort(), await freePort()];

describe("plantroot demo data dirs", () => {
  it("keeps serving a data dir made by the older demo (no ceremony) and says so", async () => {
    // exactly what the older demo left: token "plantroot-demo" with its PIN file, bootstrapped PKI files
    const dataDir = mkdtempSync(join(tmpdir(), "demo-legacy-"));
    const sh = useSoftHsm(join(dataDir, "softhsm"));
    const pin = randomBytes(12).toString("base64url");
    writeFileSync(join(dataDir, "softhsm", "demo-user-pin"), pin, { mode: 0o600 });
    sh.createToken("plantroot-demo", pin);
    const token = HsmToken.open({ label: "plantroot-demo", pin: { value: pin } });
    const p = await ports();
    const boot = await bootstrapDemoPki({
      dir: join(dataDir, "pki"),
      token,
      pkiBaseUrl: `http://127.0.0.1:${p[1]}`,
      names: DEMO_NAMES,
      organization: "Plantroot Demo (insecure)",
    });
    token.close();
    const demo = await startDemo(dataDir, p);
    try {
      expect(demo.line).toBe(`ACME directory: https://127.0.0.1:${p[0]}/acme/directory`);
      expect(demo.stderr()).toMatch(/made by an older plantroot demo WITHOUT a key ceremony/);
      expect(demo.stderr()).toMatch(/start with a new --data-dir/);
      expect(demo.stderr()).not.toMatch(/running the demo key ceremony/);
      expect(existsSync(join(dataDir, "ceremonies"))).toBe(false);
      expect(readFileSync(join(dataDir, "root.pem"), "utf8")).toBe(readFileSync(boot.paths.root, "utf8"));
      const served = Buffer.from(await (await fetch(`http://127.0.0.1:${p[1]}/ca/issuing.crt`)).arrayBuffer());
      expect(served.equals(boot.issuingDer)).toBe(true);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  });

  it("redoes a first start that was killed during its ceremony, and refuses a foreign dir", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "demo-killed-"));
    const p = await ports();
    const child = spawnDemo(dataDir, p);
    let err = "";
    await new Promise<void>((res, rej) => {
      child.stderr!.on("data", (c) => {
        err += c;
        // killed with no chance to clean up, in the middle of the ceremony
        if (/init-root done/.test(err)) {
          child.kill("SIGKILL");
          res();
        }
      });
      child.once("exit", () => rej(new Error(`demo exited before the ceremony began: ${err}`)));
    });
    await new Promise((res) => child.once("exit", res));
    expect(existsSync(join(dataDir, "demo-first-start.incomplete"))).toBe(true);
    const demo = await startDemo(dataDir, p);
    try {
      expect(demo.stderr()).toMatch(/earlier first start was interrupted/);
      expect(demo.line).toBe(`ACME directory: https://127.0.0.1:${p[0]}/acme/directory`);
      expect(existsSync(join(dataDir, "demo-first-start.incomplete"))).toBe(false);
      const state = JSON.parse(readFileSync(join(dataDir, "demo-state.json"), "utf8")) as Record<string, string>;
      expect(readdirSync(join(dataDir, "ceremonies"))).toEqual([state.ceremonyId]);
      const v = await plantroot([
        "ceremony",
        "verify",
        join(dataDir, "ceremonies", state.ceremonyId!),
        "--registry-hash",
        state.registryHash!,
      ]);
      expect(v.code, v.out).toBe(0);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
    // a directory with tokens or a database the demo did not make is refused, not overwritten
    const foreign = mkdtempSync(join(tmpdir(), "demo-foreign-"));
    mkdirSync(join(foreign, "softhsm"));
    const r = await plantroot(["demo", "--data-dir", foreign, "--port", "0", "--http-port", "0"]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/^plantroot: .*holds tokens or a database this demo did not make.*use a new --data-dir$/m);
  }, 240_000);
});
