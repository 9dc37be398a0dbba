// lego (Debian) against the appliance: register with and without EAB, http-01 for a name under
// .localhost and for 127.0.0.1, tls-alpn-01, renew, revoke (seen in the CRL at once), dns-01 through
// lego's rfc2136 provider into a real BIND; every certificate verified by openssl against the demo root.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBind } from "../helpers/bind.js";
import {
  type InteropEnv,
  newEab,
  opensslVerify,
  pemCerts,
  runTool,
  sansOf,
  serialOf,
  startInterop,
} from "./interop-env.js";

let env: InteropEnv;

beforeAll(async () => {
  env = await startInterop();
});
afterAll(async () => {
  await env?.close();
});

function lego(e: InteropEnv, path: string, args: string[], extraEnv: Record<string, string> = {}) {
  return runTool(
    "lego",
    ["--server", e.h.directoryUrl, "--accept-tos", "--email", "ot-it@plant.example", "--path", path, ...args],
    { LEGO_CA_CERTIFICATES: e.rootFile, ...extraEnv },
  );
}

function issued(path: string, name: string): { leaf: string; chain: string } {
  const bundle = readFileSync(join(path, "certificates", `${name}.crt`), "utf8");
  const certs = pemCerts(bundle);
  return { leaf: certs[0]!, chain: certs.slice(1).join("") };
}

/** The SubCA's CRL as served on the plain-HTTP listener, as openssl prints it. */
async function crlText(e: InteropEnv): Promise<string> {
  const der = await new Promise<Buffer>((resolve, reject) =>
    http
      .get(`http://127.0.0.1:${e.h.app.server.ports.http}/ca/issuing.crl`, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
      })
      .on("error", reject),
  );
  return execFileSync("openssl", ["crl", "-inform", "DER", "-noout", "-text"], { input: der }).toString();
}

/**
 * lego `run` then `renew` with http-01 for `domain`: both certificates carry exactly `san` and verify
 * with openssl, the renewal has a new serial. Returns both.
 */
async function runAndRenewHttp01(
  path: string,
  domain: string,
  san: string,
): Promise<{ first: { leaf: string; chain: string }; second: { leaf: string; chain: string } }> {
  const http01 = ["--http", "--http.port", `127.0.0.1:${env.http01}`];
  const r = await lego(env, path, ["--domains", domain, ...http01, "run"]);
  expect(r.code, r.out).toBe(0);
  const first = issued(path, domain);
  expect(sansOf(first.leaf)).toBe(san);
  expect(opensslVerify(env, first.leaf, first.chain)).toMatch(/OK$/);
  const renew = await lego(env, path, ["--domains", domain, ...http01, "renew", "--days", "9999", "--no-random-sleep"]);
  expect(renew.code, renew.out).toBe(0);
  const second = issued(path, domain);
  expect(serialOf(second.leaf)).not.toBe(serialOf(first.leaf));
  expect(sansOf(second.leaf)).toBe(san);
  expect(opensslVerify(env, second.leaf, second.chain)).toMatch(/OK$/);
  return { first, second };
}

describe("lego", () => {
  it("http-01 for a .localhost name without EAB; renew; revoke shows in the CRL at once", async () => {
    const path = join(env.work, "lego-a");
    const { second } = await runAndRenewHttp01(path, "lego-a.localhost", "DNS:lego-a.localhost");

    const rev = await lego(env, path, ["--domains", "lego-a.localhost", "revoke", "--reason", "4"]);
    expect(rev.code, rev.out).toBe(0);
    const serial = serialOf(second.leaf);
    expect(await env.h.ca.status(serial)).toMatchObject({ status: "revoked", reason: 4 });
    expect((await crlText(env)).toLowerCase()).toContain(serial);
  });

  // This lego (Debian) sends IP addresses as dns identifiers and writes them into its own CSRs as
  // dNSNames; with --csr it orders the CN and DNS names only. So the CSR names 127.0.0.1 as CN and as
  // iPAddress SAN, and the appliance takes the dns identifier "127.0.0.1" as the ip identifier.
  // The CA leaves an IP CN out of the certificate's subject: OpenSSL would check such a CN against the
  // SubCA's DNS name constraints ("permitted subtree violation").
  it("http-01 for 127.0.0.1 (CSR with CN and iPAddress SAN)", async () => {
    const path = join(env.work, "lego-ip");
    const key = join(env.work, "ip.key");
    const csr = join(env.work, "ip.csr");
    execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    execFileSync("openssl", [
      "req",
      "-new",
      "-key",
      key,
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-out",
      csr,
    ]);
    const r = await lego(env, path, ["--csr", csr, "--http", "--http.port", `127.0.0.1:${env.http01}`, "run"]);
    expect(r.code, r.out).toBe(0);
    const c = issued(path, "127.0.0.1");
    expect(sansOf(c.leaf)).toBe("IP Address:127.0.0.1");
    expect(opensslVerify(env, c.leaf, c.chain)).toMatch(/OK$/);
    const renew = await lego(env, path, [
      "--csr",
      csr,
      "--http",
      "--http.port",
      `127.0.0.1:${env.http01}`,
      "renew",
      "--days",
      "9999",
      "--no-random-sleep",
    ]);
    expect(renew.code, renew.out).toBe(0);
    const again = issued(path, "127.0.0.1");
    expect(serialOf(again.leaf)).not.toBe(serialOf(c.leaf));
    const rev = await lego(env, path, ["--domains", "127.0.0.1", "revoke"]);
    expect(rev.code, rev.out).toBe(0);
    expect(await env.h.ca.status(serialOf(again.leaf))).toMatchObject({ status: "revoked" });
  });

  // The README's command: `lego --domains 127.0.0.1 --http` (lego builds the CSR itself; this lego
  // sends the IP as a dns identifier and as a dNSName in its CSR, both read as the ip identifier).
  it("http-01 for 127.0.0.1 with --domains (the README's command); renew; both verified by openssl", async () => {
    await runAndRenewHttp01(join(env.work, "lego-ip-domains"), "127.0.0.1", "IP Address:127.0.0.1");
  });

  // A client limitation (docs/acme-divergences.md): this lego's tls-alpn-01 challenge certificate for
  // an IP carries the IP as a dNSName SAN; RFC 8738 §6 wants an iPAddress SAN, so validation fails.
  it("tls-alpn-01 for 127.0.0.1 fails: this lego's challenge certificate names the IP as a dNSName", async () => {
    const path = join(env.work, "lego-ip-tls");
    const issuedBefore = await env.h.issuedToAccounts();
    const r = await lego(env, path, [
      "--domains",
      "127.0.0.1",
      "--tls",
      "--tls.port",
      `127.0.0.1:${env.tlsAlpn01}`,
      "run",
    ]);
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain(`subjectAltName is dNSName "127.0.0.1", not iPAddress 127.0.0.1`);
    expect(await env.h.issuedToAccounts()).toBe(issuedBefore);
  });

  // lego's challenge certificate (Go crypto/x509) has no keyCertSign: the validator must not demand it.
  it("registers with EAB and issues through tls-alpn-01", async () => {
    const path = join(env.work, "lego-b");
    const { kid, hmacKey } = await newEab(env);
    const r = await lego(env, path, [
      "--eab",
      "--kid",
      kid,
      "--hmac",
      hmacKey,
      "--domains",
      "lego-b.localhost",
      "--tls",
      "--tls.port",
      `127.0.0.1:${env.tlsAlpn01}`,
      "run",
    ]);
    expect(r.code, r.out).toBe(0);
    const bound = await env.h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_accounts WHERE eab_kid = ?", [kid]);
    expect(bound!.n).toBe(1);
    const c = issued(path, "lego-b.localhost");
    expect(opensslVerify(env, c.leaf, c.chain)).toMatch(/OK$/);
  });
});

describe("lego dns-01 (rfc2136 into BIND)", () => {
  let dns: BindServer;
  let denv: InteropEnv;
  beforeAll(async () => {
    dns = await startBind({ zone: "plant.example" });
    denv = await startInterop({ dnsServer: dns.server });
  });
  afterAll(async () => {
    await denv?.close();
    await dns?.stop();
  });

  it("publishes the TXT record with RFC 2136 + TSIG; the appliance validates it through plant DNS", async () => {
    const path = join(denv.work, "lego-dns");
    const r = await lego(
      denv,
      path,
      ["--domains", "plc9.plant.example", "--dns", "rfc2136", "--dns.resolvers", dns.server, "--dns.disable-cp", "run"],
      dns.legoEnv(),
    );
    expect(r.code, r.out).toBe(0);
    const c = issued(path, "plc9.plant.example");
    expect(sansOf(c.leaf)).toBe("DNS:plc9.plant.example");
    expect(opensslVerify(denv, c.leaf, c.chain)).toMatch(/OK$/);
  });
});
