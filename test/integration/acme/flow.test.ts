// The ACME server end to end with acme-client (npm) against the real appliance: SoftHSM-backed CA,
// real http-01 validation into a loopback responder, sqlite — account, order, finalize, download,
// reuse of valid authorizations, revocation reflected by the CA.
import * as acme from "acme-client";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: h.rootPem, keepAlive: true });
});
afterAll(async () => {
  await h?.close();
});

function opensslVerify(chainPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), "verify-"));
  const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
  writeFileSync(join(dir, "root.pem"), h.rootPem);
  writeFileSync(join(dir, "leaf.pem"), certs[0]!);
  writeFileSync(join(dir, "chain.pem"), certs.slice(1).join(""));
  return execFileSync("openssl", [
    "verify",
    "-CAfile",
    join(dir, "root.pem"),
    "-untrusted",
    join(dir, "chain.pem"),
    join(dir, "leaf.pem"),
  ])
    .toString()
    .trim();
}

describe("acme-client against the appliance", () => {
  it("registers, orders a name and an IP, validates http-01, finalizes and downloads a chain openssl verifies", async () => {
    const client = new acme.Client({
      directoryUrl: h.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
    });
    await client.createAccount({ termsOfServiceAgreed: true });
    const [, csr] = await acme.crypto.createCsr(
      { altNames: ["dev1.localhost", "127.0.0.1"] },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    // acme-client's auto() sends every name as a dns identifier, so IP orders use the step API
    const order = await client.createOrder({
      identifiers: [
        { type: "dns", value: "dev1.localhost" },
        { type: "ip", value: "127.0.0.1" },
      ],
    });
    for (const authz of await client.getAuthorizations(order)) {
      const ch = authz.challenges.find((c) => c.type === "http-01")!;
      if (authz.identifier.type === "ip")
        expect(authz.challenges.map((c) => c.type).sort()).toEqual(["http-01", "tls-alpn-01"]);
      h.responder.publish(ch.token, await client.getChallengeKeyAuthorization(ch));
      await client.completeChallenge(ch);
      await client.waitForValidStatus(ch);
    }
    const finalized = await client.finalizeOrder(order, csr);
    expect(finalized.status).toBe("valid");
    const pem = await client.getCertificate(finalized);
    const info = acme.crypto.readCertificateInfo(pem);
    expect(info.domains.altNames.sort()).toEqual(["127.0.0.1", "dev1.localhost"]);
    expect(opensslVerify(pem)).toMatch(/leaf.pem: OK/);
    expect(h.responder.requests).toBeGreaterThanOrEqual(2);
    expect(await h.issuedToAccounts()).toBe(1);

    // a second order for the same name reuses the valid authorization: ready without a validation
    const requests = h.responder.requests;
    const again = await client.createOrder({ identifiers: [{ type: "dns", value: "dev1.localhost" }] });
    expect(again.status).toBe("ready");
    expect((await client.getAuthorizations(again))[0]!.status).toBe("valid");
    expect(h.responder.requests).toBe(requests);

    await client.revokeCertificate(pem, { reason: 4 });
    const serial = new (await import("node:crypto")).X509Certificate(pem).serialNumber.toLowerCase();
    expect(await h.ca.status(serial)).toMatchObject({ status: "revoked", reason: 4 });
  });

  it("auto() issues for a name under .localhost", async () => {
    const client = new acme.Client({
      directoryUrl: h.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
    });
    const [, csr] = await acme.crypto.createCsr(
      { commonName: "plc7.localhost" },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    const pem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      skipChallengeVerification: true,
      challengeCreateFn: async (_a, ch, ka) => h.responder.publish(ch.token, ka),
      challengeRemoveFn: async () => {},
    });
    expect(acme.crypto.readCertificateInfo(pem).domains.altNames).toEqual(["plc7.localhost"]);
    expect(opensslVerify(pem)).toMatch(/OK/);
  });
});
