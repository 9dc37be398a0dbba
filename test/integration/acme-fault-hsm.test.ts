// The HSM disappears under ACME load: 8 device lanes enroll (newOrder → http-01 → finalize →
// download), one lane revokes, one asks OCSP, while the SoftHSM token directory is gone for 2 s.
// Clients see finalize answered `processing` with Retry-After (or a 503 serverInternal with
// Retry-After where the request itself needs the HSM), never another 5xx; every order is issued once
// the token is back, without a restart; nothing is half-written and the CRL lists every revocation.
import { createPublicKey } from "node:crypto";
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAuditChain } from "../../appliance/audit/index.js";
import { parseCertificate, pemToDer } from "../../appliance/ca/cert-parse.js";
import { type Harness, startHarness } from "../helpers/acme-harness.js";
import { RawAccount, RawAcmeClient, type RawResponse } from "../helpers/acme-raw-client.js";
import { csrFor } from "../helpers/csr.js";
import { INTERNALS } from "../helpers/fuzz.js";
import { certId, ocspCertStatus, ocspRequest, ocspResponseStatus } from "../helpers/ocsp-request.js";
import { openssl, testSoftHsm } from "../helpers/softhsm.js";

let h: Harness;
let c: RawAcmeClient;
let pkiBase: string;

beforeAll(async () => {
  h = await startHarness();
  c = await new RawAcmeClient(h.directoryUrl, h.rootPem).init();
  c.publish = (t, ka) => h.responder.publish(t, ka);
  pkiBase = `http://127.0.0.1:${h.app.server.ports.http}`;
});
afterAll(async () => {
  c?.close();
  await h?.close();
});

type Phase = "before" | "outage" | "after";

describe("HSM unavailable under ACME load", () => {
  it("processing/503 with Retry-After during the outage, every order issued afterwards, CRL complete", async () => {
    const accounts = await Promise.all(Array.from({ length: 8 }, () => RawAccount.create(c)));
    const issuer = parseCertificate(pemToDer(h.ca.issuerChainPem()));
    let phase: Phase = "before";
    let valid = 0;
    let stop = false;
    const seen: Record<string, number> = {};
    const fiveHundreds: RawResponse[] = [];
    const note = (what: string, r: RawResponse) => {
      const k = `${phase} ${what} ${r.status}${r.status >= 400 ? ` ${r.json().type}` : ""}${r.headers["retry-after"] ? " +Retry-After" : ""}`;
      seen[k] = (seen[k] ?? 0) + 1;
      if (r.status >= 500) fiveHundreds.push(r);
    };
    const issued: Array<{ account: RawAccount; der: Buffer }> = [];
    const revoked: string[] = [];
    const tokens = join(testSoftHsm().dir, "tokens");

    const lane = async (a: RawAccount, li: number) => {
      for (let i = 0; !stop; i++) {
        const ids = [{ type: "dns" as const, value: `hsm${li}-${i}.localhost` }];
        const o = await a.newOrder(ids);
        await a.validate(o);
        const f = await a.finalize(o, csrFor(ids));
        note("finalize", f);
        expect(f.status).toBe(200);
        let order = f.json();
        for (let k = 0; order.status === "processing" && k < 400; k++) {
          const ra = Number(f.headers["retry-after"]);
          expect(ra).toBeGreaterThan(0);
          await new Promise((r) => setTimeout(r, 100)); // faster than Retry-After: a test, not a client
          const p = await a.post(o.url, "");
          note("poll", p);
          order = p.json();
        }
        expect(order.status).toBe("valid");
        const cert = await a.post(order.certificate as string, "");
        issued.push({ account: a, der: pemToDer(cert.body) });
        if (++valid === 24 && phase === "before") {
          phase = "outage";
          renameSync(tokens, `${tokens}.gone`);
          setTimeout(() => {
            renameSync(`${tokens}.gone`, tokens);
            phase = "after";
          }, 2000);
        }
        if (phase === "after" && valid >= 64) stop = true;
      }
    };
    const revoker = async () => {
      while (!stop) {
        const x = issued.shift();
        if (!x) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        const r = await x.account.post(c.dir.revokeCert!, { certificate: x.der.toString("base64url"), reason: 4 });
        note("revokeCert", r);
        const serial = parseCertificate(x.der).serial.toString("hex");
        if (r.status === 200) revoked.push(serial);
        else {
          // the HSM is needed for the CRL: 503 with Retry-After; the revocation itself is recorded
          expect(r.status).toBe(503);
          expect(r.json().type).toBe("urn:ietf:params:acme:error:serverInternal");
          expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
          revoked.push(serial);
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    };
    const ocspStatuses: number[] = [];
    const asker = async () => {
      while (!stop) {
        const x = issued[issued.length - 1];
        if (x) {
          const res = await fetch(`${pkiBase}/ocsp`, {
            method: "POST",
            headers: { "content-type": "application/ocsp-request" },
            body: new Uint8Array(ocspRequest([certId(issuer, parseCertificate(x.der).serial)])),
          });
          ocspStatuses.push(ocspResponseStatus(Buffer.from(await res.arrayBuffer())));
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await Promise.all([...accounts.map(lane), revoker(), asker()]);

    // what clients saw: no 5xx but 503 serverInternal with Retry-After, and the outage was noticed
    for (const r of fiveHundreds) {
      expect(r.status).toBe(503);
      expect(r.headers["retry-after"]).toBeDefined();
      expect(r.body).not.toMatch(INTERNALS);
    }
    // the outage was noticed by clients as a Retry-After (finalize processing, or a 503)
    const toldToRetry = Object.entries(seen)
      .filter(([k]) => k.includes("+Retry-After"))
      .reduce((n, [, v]) => n + v, 0);
    expect(toldToRetry, JSON.stringify(seen)).toBeGreaterThan(0);
    console.info(`acme-fault-hsm responses: ${JSON.stringify(seen)}`);
    expect(ocspStatuses.every((s) => s === 0 || s === 3)).toBe(true); // successful or tryLater
    expect(valid).toBeGreaterThanOrEqual(64);

    // the store: nothing half-written, the audit chain intact
    expect(await h.db.all("SELECT serial FROM ca_certificates WHERE status = 'signing'")).toEqual([]);
    const report = await verifyAuditChain(h.db, {
      trustedKey: createPublicKey(readFileSync(join(h.dir, "pki", "audit-key.pem"))),
    });
    expect(report.problems).toEqual([]);

    // every revocation (acknowledged or answered 503) is in the CRL once the HSM is back
    const crl = await h.ca.crl.refresh("test: after the outage");
    const text = openssl(["crl", "-inform", "DER", "-noout", "-text"], crl.der).toUpperCase();
    expect(revoked.length).toBeGreaterThan(0);
    for (const s of revoked) expect(text).toContain(s.toUpperCase());
    const last = revoked[revoked.length - 1]!;
    const res = await fetch(`${pkiBase}/ocsp`, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: new Uint8Array(ocspRequest([certId(issuer, Buffer.from(last, "hex"))])),
    });
    expect(ocspCertStatus(Buffer.from(await res.arrayBuffer()))).toBe("revoked");
  }, 120_000);
});
