// `plantroot serve --config FILE` (a bad file is refused naming the field; a good one serves) and
// `plantroot demo` (first run holds a real key ceremony with INSECURE demo officers, installs its SubCA,
// records that in the audit chain and prints the directory line; a second run reuses everything).
import { execFile } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { bootstrapDemoPki } from "../../../appliance/ca/bootstrap.js";
import { derToPem } from "../../../appliance/ca/cert-parse.js";
import { jsonLogger } from "../../../appliance/log.js";
import { checkServeConfig, serve } from "../../../appliance/serve.js";
import { HsmToken } from "../../../hsm/index.js";
import { freePort, HARNESS_NAMES } from "../../helpers/acme-harness.js";
import { plantroot, startDemo } from "../../helpers/demo-process.js";
import { openssl, testSoftHsm } from "../../helpers/softhsm.js";

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
      [{ ...good, listen: { ...(good.listen as object), host: "0.0.0.0" }, publicUrl: undefined }, /field publicUrl/],
      [{ ...good, hsm: { token: "t", pin: { credential: "../etc/shadow" } } }, /field hsm\.pin/],
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

  it("serves ACME from a valid configuration, with EAB required by default; validation never reaches its own listeners", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-"));
    const good = await goodConfig(dir);
    const listen = good.listen as { port: number; httpPort: number; metrics: { port: number } };
    // no acme.eabRequired: production requires EAB unless told otherwise. Validation is pointed at
    // the appliance's own ports (and may reach 127.0.0.0/8): only ownListeners stops it.
    const config = {
      ...good,
      acme: { rateLimits: { newOrdersPerAccount: { count: 100, periodSeconds: 60 } } },
      validation: {
        ...(good.validation as object),
        ports: { http01: listen.httpPort, tlsAlpn01: listen.port },
      },
    };
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    expect(checkServeConfig(join(dir, "config.json")).acme.eabRequired).toBe(true);
    const app = await serve(join(dir, "config.json"), jsonLogger({ write: () => true } as never));
    try {
      const root = readFileSync(join(dir, "pki", "root.pem"), "utf8");
      const d = await getJson(app.server.directoryUrl, root);
      expect(d.meta).toMatchObject({ externalAccountRequired: true });
      expect(app.server.directoryUrl).toBe(`https://127.0.0.1:${listen.port}/acme/directory`);
      for (const type of ["http-01", "tls-alpn-01"] as const) {
        const r = await app.validator.validate({
          type,
          identifier: { type: "ip", value: "127.0.0.1" },
          token: "tok",
          keyAuthorization: "tok.thumb",
        });
        expect(r.ok, type).toBe(false);
        expect(JSON.stringify(r.problem), type).toMatch(/one of this appliance's own listeners/);
      }
    } finally {
      await app.close();
    }
  });
});

describe("plantroot demo", () => {
  function httpGet(url: string): Promise<Buffer> {
    return fetch(url).then(async (r) => {
      if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    });
  }

  /** The certificate chain the appliance's HTTPS listener presents (leaf first). */
  function tlsChain(port: number, ca: string): Promise<X509Certificate[]> {
    return new Promise((res, rej) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
        const chain: X509Certificate[] = [];
        let c = s.getPeerX509Certificate();
        while (c && !chain.some((x) => x.fingerprint256 === c!.fingerprint256)) {
          chain.push(c);
          c = c.issuerCertificate;
        }
        s.end();
        res(chain);
      });
      s.on("error", rej);
    });
  }

  it("first run holds a real key ceremony (verifiable bundle, its SubCA in use and in the audit chain); a second run reuses it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "demo-"));
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const first = await startDemo(dataDir, ports);
    expect(first.line).toBe(`ACME directory: https://127.0.0.1:${ports[0]}/acme/directory`);
    expect(first.stderr()).toMatch(/NOT SECURE/);
    expect(first.stderr()).toMatch(/INSECURE DEMO: running the demo key ceremony/);
    const root = readFileSync(join(dataDir, "root.pem"), "utf8");
    expect(root).toMatch(/BEGIN CERTIFICATE/);
    const d = await getJson(`https://127.0.0.1:${ports[0]}/acme/directory`, root);
    expect(d.meta).toMatchObject({ externalAccountRequired: false });

    // the evidence bundle: under <data-dir>/ceremonies/, verified by the auditor's tool with pins
    const state = JSON.parse(readFileSync(join(dataDir, "demo-state.json"), "utf8")) as Record<string, string>;
    expect(readdirSync(join(dataDir, "ceremonies"))).toEqual([state.ceremonyId]);
    const bundle = join(dataDir, "ceremonies", state.ceremonyId!);
    const verified = await plantroot([
      "ceremony",
      "verify",
      bundle,
      "--registry-hash",
      state.registryHash!,
      "--log-key",
      state.logKeyId!,
    ]);
    expect(verified.code, verified.out).toBe(0);
    expect(verified.out).toMatch(new RegExp(`^VALID ceremony ${state.ceremonyId}: \\d+ transcript entries`, "m"));
    expect(verified.out).not.toMatch(/not completed/);
    const steps = (
      JSON.parse((await plantroot(["ceremony", "verify", bundle, "--json"])).out) as {
        steps: Array<{ id: string; approvedBy: string[] }>;
      }
    ).steps;
    // 2 of the 3 demo officers approved every CA-key step, next to the administrator and witness
    const subcaStep = steps.find((s) => s.id === "subca-cert")!;
    expect(subcaStep.approvedBy.filter((a) => a.endsWith("(officer)"))).toHaveLength(2);
    expect(subcaStep.approvedBy).toEqual(expect.arrayContaining(["demo-admin (admin)", "demo-witness (witness)"]));
    // the root token's PIN is split among the three officers, threshold 2
    const shares = JSON.parse(readFileSync(join(bundle, "tokens/root.pin-shares.json"), "utf8")) as {
      threshold: number;
      shares: Array<{ recipient: string }>;
    };
    expect(shares.threshold).toBe(2);
    expect(shares.shares.map((x) => x.recipient)).toEqual(["demo-officer-1", "demo-officer-2", "demo-officer-3"]);
    // the demo labels itself: participants' PIN files, certificate subjects
    expect(readdirSync(join(dataDir, "softhsm", "INSECURE-DEMO-PINS"))).toContain("demo-officer-1.pin");
    const bundleSubca = new X509Certificate(readFileSync(join(bundle, "certs/issuing.pem")));
    expect(bundleSubca.subject).toMatch(/INSECURE DEMO/);
    expect(new X509Certificate(readFileSync(join(bundle, "certs/root.pem"))).subject).toMatch(/INSECURE DEMO/);
    expect(openssl(["x509", "-in", join(bundle, "certs/issuing.pem"), "-noout", "-ext", "nameConstraints"])).toMatch(
      /Permitted:\s+DNS:localhost\s+IP:127\.0\.0\.0\/255\.0\.0\.0\s+IP:0:0:0:0:0:0:0:1\/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF/,
    );

    // the SubCA in use is the ceremony's: served at the AIA URL, issuer of the appliance's own TLS certificate
    const pki = `http://127.0.0.1:${ports[1]}`;
    expect((await httpGet(`${pki}/ca/issuing.crt`)).equals(bundleSubca.raw)).toBe(true);
    expect(new X509Certificate(await httpGet(`${pki}/ca/root.crt`)).toString()).toBe(
      new X509Certificate(readFileSync(join(bundle, "certs/root.pem"))).toString(),
    );
    expect(root).toBe(readFileSync(join(bundle, "certs/root.pem"), "utf8"));
    const rootCrl = await httpGet(`${pki}/ca/root.crl`);
    expect(derToPem(rootCrl, "X509 CRL")).toBe(readFileSync(join(bundle, "crls/root-1.crl"), "utf8"));
    const chain = await tlsChain(ports[0]!, root);
    expect(chain[0]!.checkIssued(bundleSubca)).toBe(true);
    expect(chain[0]!.verify(bundleSubca.publicKey)).toBe(true);

    // the installation is in the appliance's audit chain, and the chain verifies
    const audit = await plantroot(["audit", "verify", "--db", join(dataDir, "plantroot.db")]);
    expect(audit.code, audit.out).toBe(0);
    expect(audit.out).toMatch(/audit chain OK/);
    const transcript = readFileSync(join(bundle, "transcript.jsonl"), "utf8").trim().split("\n");
    const head = (JSON.parse(transcript[transcript.length - 1]!) as { hash: string }).hash;
    const sha = createHash("sha256").update(bundleSubca.raw).digest("hex");
    expect(audit.out).toContain(`ceremony.subca-installed (entry `);
    expect(audit.out).toMatch(
      new RegExp(`ceremony ${state.ceremonyId}, certificate SHA-256 ${sha}, transcript head ${head}`),
    );
    expect(await first.stop()).toBe(0);

    const second = await startDemo(dataDir, ports);
    expect(second.line).toBe(`ACME directory: https://127.0.0.1:${ports[0]}/acme/directory`);
    expect(second.stderr()).toMatch(new RegExp(`reusing the demo PKI from ceremony ${state.ceremonyId}`));
    expect(second.stderr()).not.toMatch(/running the demo key ceremony|creat/);
    expect(readdirSync(join(dataDir, "ceremonies"))).toEqual([state.ceremonyId]);
    expect(readFileSync(join(dataDir, "root.pem"), "utf8")).toBe(root);
    expect((await httpGet(`${pki}/ca/issuing.crt`)).equals(bundleSubca.raw)).toBe(true);
    expect(await second.stop()).toBe(0);
    const again = await plantroot(["audit", "verify", "--db", join(dataDir, "plantroot.db"), "--json"]);
    expect(again.code).toBe(0);
    const installs = (JSON.parse(again.out) as { ceremonies: Array<{ type: string }> }).ceremonies;
    expect(installs.map((e) => e.type)).toEqual(["ceremony.subca-installed"]);
  }, 240_000);
});
