// RFC 9773 `replaces` when finalize does not wait for the CA (finalizeWaitMs 0): the answer says
// processing, the order settles valid, and the claim still refuses a second order for the certificate
// (that order turns invalid with alreadyReplaced, seen when the client polls).
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCertId } from "../../../appliance/acme/renewal-info.js";
import { buildCsr } from "../../../appliance/csr-builder.js";
import { type Harness, startHarness } from "../../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient } from "../../helpers/acme-raw-client.js";

let h: Harness;
let c: RawAcmeClient;

beforeAll(async () => {
  h = await startHarness({ acme: { finalizeWaitMs: 0 } });
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = h.responder.publish;
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

describe("replaces with an answer that does not wait for the CA", () => {
  it("finalize answers processing, the order becomes valid; a second order for the certificate turns invalid (alreadyReplaced)", async () => {
    const a = await RawAccount.create(c);
    const ids = [{ type: "dns" as const, value: "slow.localhost" }];
    const csr = () => buildCsr(ids, generateKeyPairSync("ec", { namedCurve: "P-256" }));
    const first = await a.newOrder(ids);
    await a.validate(first);
    expect((await a.finalize(first, await csr())).status).toBe(200);
    const done = await a.settled(first.url);
    expect(done.status).toBe("valid");
    const pem = (await a.post(done.certificate as string, "")).body;
    const leaf = new X509Certificate(pem.split(/(?<=-----END CERTIFICATE-----)/)[0]!);
    const aki = leaf.raw.subarray(leaf.raw.indexOf(Buffer.from("0603551d23", "hex")));
    // OID(5) + OCTET STRING hdr(2) + SEQUENCE hdr(2) + [0] hdr(2), 20-byte key identifier
    const certId = formatCertId(aki.subarray(11, 31), leaf.serialNumber);

    const r1 = await a.newOrder(ids, { replaces: certId });
    const r2 = await a.newOrder(ids, { replaces: certId });
    await a.validate(r1);
    await a.validate(r2);
    const f1 = await a.finalize(r1, await csr());
    expect(f1.status).toBe(200);
    expect(["processing", "valid"]).toContain(f1.json().status);
    const s1 = await a.settled(r1.url);
    expect(s1.status).toBe("valid");
    expect(s1.replaces).toBe(certId);
    // not waiting for the outcome, the answer is processing; the poll shows the refusal
    const f2 = await a.finalize(r2, await csr());
    expect(f2.status).toBe(200);
    expect(f2.json().status).toBe("processing");
    const s2 = await a.settled(r2.url);
    expect(s2).toMatchObject({ status: "invalid", error: { type: "urn:ietf:params:acme:error:alreadyReplaced" } });
    expect(s2.certificate).toBeUndefined();
  });
});
