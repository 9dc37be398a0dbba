// The ACME HTTP layer end to end with acme-client (npm): account, order, challenge, finalize,
// download, renewal info, revoke — against the real Koa server, sqlite and the CA/validator doubles.
import * as acme from "acme-client";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeCa } from "../../fakes/fake-ca.js";
import { FakeValidator } from "../../fakes/fake-validator.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";

let h: Harness;
let ca: FakeCa;
let validator: FakeValidator;

beforeAll(async () => {
  ca = await FakeCa.create();
  validator = new FakeValidator();
  h = await startHarness({ ca, validator });
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: ca.issuerChainPem(), keepAlive: true });
});
afterAll(async () => {
  await h?.close();
});

describe("acme-client against the appliance", () => {
  it("registers, orders a name and an IP, validates http-01, finalizes and downloads the chain", async () => {
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
      await client.completeChallenge(ch);
      await client.waitForValidStatus(ch);
    }
    const finalized = await client.finalizeOrder(order, csr);
    expect(finalized.status).toBe("valid");
    const pem = await client.getCertificate(finalized);
    const info = acme.crypto.readCertificateInfo(pem);
    expect(info.domains.altNames.sort()).toEqual(["127.0.0.1", "dev1.localhost"]);
    expect(pem).toContain(ca.issuerChainPem().trim());
    expect(validator.calls.map((c) => c.identifier.value).sort()).toEqual(["127.0.0.1", "dev1.localhost"]);
    expect(validator.calls.every((c) => c.type === "http-01")).toBe(true);
    // (the first issue() call was the appliance's own HTTPS certificate)
    const acmeIssues = ca.issueCalls.filter((c) => c.requester.accountId);
    expect(acmeIssues).toHaveLength(1);
    expect(acmeIssues[0]!.requester.orderId).toBe(finalized.url.split("/").pop());

    // a second order for the same name reuses the valid authorization: ready without a validation
    const again = await client.createOrder({ identifiers: [{ type: "dns", value: "dev1.localhost" }] });
    expect(again.status).toBe("ready");
    expect((await client.getAuthorizations(again))[0]!.status).toBe("valid");
    expect(validator.calls).toHaveLength(2);

    await client.revokeCertificate(pem, { reason: 4 });
    expect(ca.revokeCalls).toHaveLength(1);
    expect(ca.revokeCalls[0]!.reason).toBe(4);
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
      challengeCreateFn: async () => {},
      challengeRemoveFn: async () => {},
    });
    expect(acme.crypto.readCertificateInfo(pem).domains.commonName).toBe("plc7.localhost");
  });
});
