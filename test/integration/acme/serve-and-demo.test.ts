// `plantroot serve --config FILE` (a bad file is refused naming the field; a good one serves) and
// `plantroot demo` (first run creates everything and prints the directory line; a second run reuses it).
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { bootstrapDemoPki } from "../../../appliance/ca/bootstrap.js";
import { jsonLogger } from "../../../appliance/log.js";
import { checkServeConfig, serve } from "../../../appliance/serve.js";
import { HsmToken } from "../../../hsm/index.js";
import { freePort, HARNESS_NAMES } from "../../helpers/acme-harness.js";
import { testSoftHsm } from "../../helpers/softhsm.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const run = promisify(execFile);

function getJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((res, rej) =>
    https
      .get(url, { ca }, (r) => {
        let body = "";
        r.on("data", (c) => (body += c));
        r.on("end", () => res(JSON.parse(body)));
      })
      .on("error", rej),
  );
}

let tokens = 0;

async function goodConfig(dir: string): Promise<Record<string, unknown>> {
  const sh = testSoftHsm();
  const label = `serve-test-${++tokens}`;
  sh.createToken(label, "4321");
  const token = HsmToken.open({ label, pin: { value: "4321" } });
  const httpPort = await freePort();
  const boot = await bootstrapDemoPki({
    dir: join(dir, "pki"),
    token,
    pkiBaseUrl: `http://127.0.0.1:${httpPort}`,
    names: HARNESS_NAMES,
  });
  token.close();
  writeFileSync(join(dir, "pin"), "4321\n", { mode: 0o600 });
  return {
    dataDir: join(dir, "data"),
    listen: { host: "127.0.0.1", port: await freePort(), httpPort, metrics: { port: await freePort() } },
    tlsNames: ["127.0.0.1", "localhost"],
    hsm: { token: label, pin: { file: join(dir, "pin") } },
    ca: boot.config,
    validation: { allowedNetworks: ["127.0.0.0/8"], resolver: { hosts: { localhost: ["127.0.0.1"] } } },
    acme: { eabRequired: true, rateLimits: { newOrdersPerAccount: { count: 100, periodSeconds: 60 } } },
  };
}

describe("plantroot serve", () => {
  it("refuses a bad configuration and names the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-"));
    const good = await goodConfig(dir);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, listen: { host: "127.0.0.1", port: "x" } }, /field listen\.port/],
      [
        { ...good, acme: { rateLimits: { newOrdersPerAccount: { count: -1, periodSeconds: 60 } } } },
        /acme\.rateLimits\.newOrdersPerAccount\.count/,
      ],
      [{ ...good, acme: { eabRequired: "yes" } }, /field acme\.eabRequired/],
      [{ ...good, surprise: 1 }, /surprise|unrecognized/i],
      [{ ...good, hsm: { token: "t", pin: "1234" } }, /field hsm\.pin/],
      [{ ...good, ca: { ...(good.ca as object), pkiBaseUrl: "https://x" } }, /field ca\.pkiBaseUrl/],
      [{ ...good, validation: { resolver: { hosts: {} } } }, /field validation\.allowedNetworks/],
    ];
    for (const [config, want] of cases) {
      const f = join(dir, "bad.json");
      writeFileSync(f, JSON.stringify(config));
      expect(() => checkServeConfig(f), JSON.stringify(config).slice(0, 80)).toThrow(want);
    }
    // the CLI: exit code 2-ish, one line naming the field, no stack trace
    writeFileSync(join(dir, "bad.json"), JSON.stringify(cases[0]![0]));
    const r = await run(process.execPath, [
      join(ROOT, "bin/plantroot.mjs"),
      "serve",
      "--config",
      join(dir, "bad.json"),
    ]).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^plantroot: .*field listen\.port/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    writeFileSync(join(dir, "good.json"), JSON.stringify(good));
    const ok = await run(process.execPath, [
      join(ROOT, "bin/plantroot.mjs"),
      "serve",
      "--config",
      join(dir, "good.json"),
      "--check",
    ]);
    expect(ok.stdout).toMatch(/configuration is valid/);
  });

  it("serves ACME from a valid configuration, with EAB required", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-"));
    const good = await goodConfig(dir);
    writeFileSync(join(dir, "config.json"), JSON.stringify(good));
    const app = await serve(join(dir, "config.json"), jsonLogger({ write: () => true } as never));
    try {
      const root = readFileSync(join(dir, "pki", "root.pem"), "utf8");
      const d = await getJson(app.server.directoryUrl, root);
      expect(d.meta).toMatchObject({ externalAccountRequired: true });
      expect(app.server.directoryUrl).toBe(
        `https://127.0.0.1:${(good.listen as { port: number }).port}/acme/directory`,
      );
    } finally {
      await app.close();
    }
  });
});

describe("plantroot demo", () => {
  async function startDemo(dataDir: string, ports: number[]) {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "bin/plantroot.mjs"),
        "demo",
        "--data-dir",
        dataDir,
        "--port",
        String(ports[0]),
        "--http-port",
        String(ports[1]),
        "--validation-http-port",
        String(ports[2]),
        "--validation-tls-port",
        String(ports[3]),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const line = await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`demo did not get ready: ${stderr}`)), 90_000);
      createInterface({ input: child.stdout }).once("line", (l) => {
        clearTimeout(t);
        res(l);
      });
      child.once("exit", (code) => rej(new Error(`demo exited ${code}: ${stderr}`)));
    });
    return {
      line,
      stderr: () => stderr,
      stop: () =>
        new Promise<number | null>((res) => {
          child.once("exit", (code) => res(code));
          child.kill("SIGTERM");
        }),
    };
  }

  it("first run creates tokens and the demo PKI and prints the directory line; a second run reuses them", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "demo-"));
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const first = await startDemo(dataDir, ports);
    expect(first.line).toBe(`ACME directory: https://127.0.0.1:${ports[0]}/acme/directory`);
    expect(first.stderr()).toMatch(/NOT SECURE/);
    expect(first.stderr()).toMatch(/created the demo root/);
    const root = readFileSync(join(dataDir, "root.pem"), "utf8");
    expect(root).toMatch(/BEGIN CERTIFICATE/);
    const d = await getJson(`https://127.0.0.1:${ports[0]}/acme/directory`, root);
    expect(d.meta).toMatchObject({ externalAccountRequired: false });
    expect(await first.stop()).toBe(0);

    const second = await startDemo(dataDir, ports);
    expect(second.line).toBe(`ACME directory: https://127.0.0.1:${ports[0]}/acme/directory`);
    expect(second.stderr()).toMatch(/reusing the demo PKI/);
    expect(second.stderr()).not.toMatch(/creating SoftHSM token/);
    expect(readFileSync(join(dataDir, "root.pem"), "utf8")).toBe(root);
    expect(await second.stop()).toBe(0);
  });
});
