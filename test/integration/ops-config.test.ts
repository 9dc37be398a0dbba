// `plantroot config check` (cli/commands/config.ts): every problem names its field; the files the
// config points at are checked on this machine (PIN file permissions, PKCS#11 library, CA files).
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfigFile, isProductionConfig } from "../../cli/commands/config.js";
import { plantroot } from "../helpers/plantroot-cli.js";

interface Cfg {
  dataDir?: string;
  listen: { host: string; port: number; httpPort: number };
  publicUrl?: string;
  tlsNames: string[];
  validation: { allowedNetworks: string[]; resolver: { hosts: Record<string, string[]> } };
  hsm: { library: string; token: string; pin: { file: string } | { env: string } };
  ca?: {
    pkiBaseUrl: string;
    hsm: { issuingKeyLabel: string; auditKeyLabel: string };
    certificates: { root: string; issuing: string };
    policy: { permittedDns: string[]; permittedIp?: string[] };
  };
}

function setup(mutate: (c: Cfg) => void = () => {}, pinMode = 0o600) {
  const dir = mkdtempSync(join(tmpdir(), "ops-config-"));
  mkdirSync(join(dir, "data/softhsm/tokens"), { recursive: true });
  chmodSync(join(dir, "data"), 0o750);
  mkdirSync(join(dir, "credentials"), { mode: 0o700 });
  writeFileSync(join(dir, "credentials/hsm-pin"), "1234", { mode: pinMode });
  chmodSync(join(dir, "credentials/hsm-pin"), pinMode);
  writeFileSync(join(dir, "root.pem"), "x");
  writeFileSync(join(dir, "issuing.pem"), "x");
  const cfg: Cfg = {
    dataDir: join(dir, "data"),
    listen: { host: "0.0.0.0", port: 443, httpPort: 80 },
    publicUrl: "https://plantroot.plant.example",
    tlsNames: ["plantroot.plant.example"],
    validation: { allowedNetworks: ["10.20.0.0/16"], resolver: { hosts: { "plc1.plant.example": ["10.20.0.7"] } } },
    hsm: {
      library: "/usr/lib/softhsm/libsofthsm2.so",
      token: "plantroot",
      pin: { file: join(dir, "credentials/hsm-pin") },
    },
    ca: {
      pkiBaseUrl: "http://pki.plant.example",
      hsm: { issuingKeyLabel: "issuing", auditKeyLabel: "audit" },
      certificates: { root: join(dir, "root.pem"), issuing: join(dir, "issuing.pem") },
      policy: { permittedDns: ["plant.example"] },
    },
  };
  mutate(cfg);
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(cfg));
  chmodSync(path, 0o640);
  return { path, dir };
}

// SoftHSM's configuration comes from the environment, as /usr/bin/plantroot and the unit set it
const savedConf = process.env.SOFTHSM2_CONF;
let softhsmDir: string;
beforeAll(() => {
  softhsmDir = mkdtempSync(join(tmpdir(), "ops-config-softhsm-"));
  mkdirSync(join(softhsmDir, "tokens"));
  writeFileSync(join(softhsmDir, "softhsm2.conf"), `directories.tokendir = ${join(softhsmDir, "tokens")}\n`);
  process.env.SOFTHSM2_CONF = join(softhsmDir, "softhsm2.conf");
});
afterAll(() => {
  if (savedConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = savedConf;
});

describe("config check", () => {
  it("accepts a complete configuration", () => {
    expect(checkConfigFile(setup().path)).toEqual({ problems: [], warnings: [] });
  });

  it("checks the whole file with the server's own schema (sections by their owners)", () => {
    const { problems } = checkConfigFile(
      setup((c) => {
        c.listen.port = 70000;
        c.validation.allowedNetworks = [];
        (c as unknown as Record<string, unknown>).typo = 1;
      }).path,
    );
    expect(problems.some((p) => p.startsWith("listen.port: "))).toBe(true);
    expect(problems.some((p) => p.startsWith("validation.allowedNetworks: "))).toBe(true);
    expect(problems.some((p) => /^\(file\): Unrecognized key: "typo"/.test(p))).toBe(true);
  });

  it("names the field of every schema problem, including the CA section's", () => {
    const { path } = setup((c) => {
      delete c.dataDir;
      (c.hsm as { pin: unknown }).pin = "1234";
    });
    const { problems } = checkConfigFile(path);
    expect(problems).toContain("dataDir: Invalid input: expected string, received undefined");
    expect(problems).toContain('hsm.pin: hsm.pin must be {"file": PATH}, {"env": NAME} or {"credential": NAME}');
    const ca = checkConfigFile(
      setup((c) => {
        c.ca!.pkiBaseUrl = "https://pki.plant.example/x";
        c.ca!.policy.permittedIp = ["10.0.0.1/8"];
      }).path,
    ).problems;
    expect(ca.some((p) => p.startsWith("ca.pkiBaseUrl: must be http://host[:port]"))).toBe(true);
    expect(ca.some((p) => p.startsWith("ca.policy.permittedIp.0: not a CIDR range"))).toBe(true);
  });

  it("checks what the configuration points at", () => {
    const { path, dir } = setup((c) => {
      c.hsm.library = "/nonexistent/libvendor.so";
    }, 0o644);
    writeFileSync(join(dir, "issuing.pem"), "x");
    const { problems } = checkConfigFile(path);
    expect(problems).toContain("hsm.library: /nonexistent/libvendor.so does not exist");
    expect(problems).toContain(
      `hsm.pin: ${join(dir, "credentials/hsm-pin")} is readable by others (mode 644); chmod 0600`,
    );
    const missing = checkConfigFile(
      setup((c) => {
        c.ca!.certificates.issuing = "/nonexistent/issuing.pem";
      }).path,
    ).problems;
    expect(missing).toEqual(["ca.certificates.issuing: /nonexistent/issuing.pem does not exist"]);
  });

  it("warns about a PIN in the environment and about a missing CA section", () => {
    const { warnings } = checkConfigFile(
      setup((c) => {
        c.hsm.pin = { env: "HSM_PIN" };
        delete c.ca;
      }).path,
    );
    expect(warnings).toContain("hsm.pin: a PIN in an environment variable is for tests only; use a systemd credential");
    expect(warnings).toContain("ca: no CA configured yet (the first ceremony adds it)");
  });

  it("refuses a PIN in the environment for the production config and under NODE_ENV=production", async () => {
    expect(isProductionConfig("/etc/plantroot/config.json", {})).toBe(true);
    expect(isProductionConfig("/etc/plantroot/../plantroot/config.json", {})).toBe(true);
    expect(isProductionConfig("/tmp/x/config.json", { NODE_ENV: "production" })).toBe(true);
    expect(isProductionConfig("/tmp/x/config.json", { NODE_ENV: "test" })).toBe(false);
    expect(isProductionConfig("/etc/plantroot/config.json.dist", {})).toBe(false);

    const { path } = setup((c) => {
      c.hsm.pin = { env: "HSM_PIN" };
    });
    const refused =
      'hsm.pin: a PIN in an environment variable is not allowed in production (other processes and crash dumps can see it); use a systemd credential: {"credential": "hsm-pin"}';
    expect(checkConfigFile(path, { production: true })).toEqual({ problems: [refused], warnings: [] });
    // the installed command, as plant IT (or the unit's environment) runs it
    const env = { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF };
    const prod = await plantroot(["config", "check", "--config", path], { ...env, NODE_ENV: "production" });
    expect(prod.code).toBe(1);
    expect(prod.stdout).toContain(`PROBLEM: ${refused}`);
    expect(prod.stdout).toContain(`config ${path}: 1 problem(s)`);
    // tests and demos (no NODE_ENV=production, not /etc/plantroot/config.json): a warning only
    const dev = await plantroot(["config", "check", "--config", path], { ...env, NODE_ENV: "development" });
    expect(dev.stdout).toContain(
      "warning: hsm.pin: a PIN in an environment variable is for tests only; use a systemd credential",
    );
    expect(dev.stdout).toContain(`config ${path}: OK`);
    expect(dev.code).toBe(0);
    // a credential or a file PIN is fine in production
    const good = await plantroot(["config", "check", "--config", setup().path], { ...env, NODE_ENV: "production" });
    expect(good.stdout).toContain("OK");
    expect(good.code).toBe(0);
  }, 60_000);
});
