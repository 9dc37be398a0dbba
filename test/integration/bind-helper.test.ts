// test/helpers/bind.ts as other tests use it: lego's rfc2136 provider writes the dns-01 TXT records
// into the helper's BIND with its TSIG key, and an ACME server's validator (Pebble's) reads them back.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBind } from "../helpers/bind.js";

let dns: BindServer;
let pebble: ChildProcess | undefined;
let dir: string;
let acmePort = 0;
let pebbleLog = "";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

async function waitForPort(port: number) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pebble did not listen on ${port}:\n${pebbleLog}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bind-lego-"));
  dns = await startBind({ zone: "plant.test" });
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]
      .concat(["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=127.0.0.1"])
      .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
    { stdio: "ignore" },
  );
  acmePort = await freePort();
  const mgmt = await freePort();
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmt}`,
      certificate: join(dir, "cert.pem"),
      privateKey: join(dir, "key.pem"),
      httpPort: 5002,
      tlsPort: 5001,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  writeFileSync(join(dir, "pebble.json"), JSON.stringify(config));
  // Pebble's VA resolves through the helper's BIND only
  pebble = spawn("pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", dns.server], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  pebble.stdout!.on("data", (d) => (pebbleLog += d));
  pebble.stderr!.on("data", (d) => (pebbleLog += d));
  await waitForPort(acmePort);
});

afterAll(async () => {
  if (pebble && pebble.exitCode === null) {
    const exited = new Promise((r) => pebble!.once("exit", r));
    pebble.kill("SIGTERM");
    await exited;
  }
  await dns?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("BIND test helper with lego's rfc2136 provider", () => {
  it("lego publishes dns-01 records through RFC 2136 + TSIG and gets a certificate (name and wildcard)", async () => {
    const args = ["--accept-tos", "--email", "ops@plant.test", "--server", `https://127.0.0.1:${acmePort}/dir`]
      .concat(["--path", join(dir, "lego"), "--dns", "rfc2136", "--dns.resolvers", dns.server, "--dns.disable-cp"])
      .concat(["--domains", "plc7.plant.test", "--domains", "*.plc7.plant.test", "run"]);
    const lego = spawn("lego", args, {
      env: { ...process.env, ...dns.legoEnv(), LEGO_CA_CERTIFICATES: join(dir, "cert.pem") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    lego.stdout.on("data", (d) => (out += d));
    lego.stderr.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((r) => lego.on("exit", r));
    expect(code, `${out}\n--- pebble ---\n${pebbleLog}`).toBe(0);
    expect(out).toContain("[plc7.plant.test] The server validated our request");
    expect(out).toContain("[*.plc7.plant.test] The server validated our request");
    const pem = readFileSync(join(dir, "lego", "certificates", "plc7.plant.test.crt"), "utf8");
    const text = execFileSync("openssl", ["x509", "-noout", "-ext", "subjectAltName"], { input: pem }).toString();
    expect(text).toContain("DNS:plc7.plant.test");
    expect(text).toContain("DNS:*.plc7.plant.test");
  });
});
