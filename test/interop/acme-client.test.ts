// acme-client (npm) against the appliance: register with and without EAB, a .localhost name and
// 127.0.0.1 over http-01, renewal as an RFC 9773 replacement (renewalInfo + replaces), revocation;
// every certificate verified by openssl against the demo root.
import * as acme from "acme-client";
import { X509Certificate } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCertId } from "../../appliance/acme/renewal-info.js";
import { authorityKeyIdOf, parseCertificate, pemToDer } from "../../appliance/ca/cert-parse.js";
import { type InteropEnv, newEab, opensslVerify, pemCerts, sansOf, serialOf, startInterop } from "./interop-env.js";

let env: InteropEnv;
let responder: http.Server;
const tokens = new Map<string, string>();

beforeAll(async () => {
  env = await startInterop();
  acme.axios.defaults.httpsAgent = new https.Agent({ ca: env.h.rootPem, keepAlive: true });
  // the device's http-01 responder on the port the appliance validates against
  responder = http.createServer((req, res) => {
    const t = req.url?.split("/").pop() ?? "";
    const ka = tokens.get(t);
    if (ka) res.end(ka);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => responder.listen(env.http01, "127.0.0.1", () => r()));
});
afterAll(async () => {
  responder?.close();
  await env?.close();
});

async function issue(
  client: acme.Client,
  ids: Array<{ type: "dns" | "ip"; value: string }>,
  extra: Record<string, unknown> = {},
) {
  const [, csr] = await acme.crypto.createCsr(
    { altNames: ids.map((i) => i.value) },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  const order = await client.createOrder({ identifiers: ids, ...extra } as Parameters<acme.Client["createOrder"]>[0]);
  for (const authz of await client.getAuthorizations(order)) {
    if (authz.status === "valid") continue;
    const ch = authz.challenges.find((c) => c.type === "http-01")!;
    tokens.set(ch.token, await client.getChallengeKeyAuthorization(ch));
    await client.completeChallenge(ch);
    await client.waitForValidStatus(ch);
  }
  const done = await client.finalizeOrder(order, csr);
  const pem = await client.getCertificate(done);
  const certs = pemCerts(pem);
  expect(opensslVerify(env, certs[0]!, certs.slice(1).join(""))).toMatch(/OK$/);
  return { order: done, pem, leaf: certs[0]! };
}

describe("acme-client", () => {
  it("without EAB: a name and an IP address; renewal replaces the first certificate; revoke", async () => {
    const client = new acme.Client({
      directoryUrl: env.h.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
    });
    await client.createAccount({ termsOfServiceAgreed: true });
    const ids = [
      { type: "dns" as const, value: "client-a.localhost" },
      { type: "ip" as const, value: "127.0.0.1" },
    ];
    const first = await issue(client, ids);
    expect(sansOf(first.leaf)).toMatch(
      /DNS:client-a\.localhost, IP Address:127\.0\.0\.1|IP Address:127\.0\.0\.1, DNS:client-a\.localhost/,
    );

    // RFC 9773: ask when to renew, then renew as a replacement of the first certificate
    const aki = authorityKeyIdOf(parseCertificate(pemToDer(first.leaf)))!;
    const certId = formatCertId(aki, new X509Certificate(first.leaf).serialNumber);
    const info = await new Promise<{ suggestedWindow: { start: string; end: string } }>((resolve, reject) =>
      https
        .get(`${env.h.directoryUrl.replace(/directory$/, "renewal-info")}/${certId}`, { ca: env.h.rootPem }, (res) => {
          let b = "";
          res.on("data", (c) => (b += c));
          res.on("end", () => resolve(JSON.parse(b)));
        })
        .on("error", reject),
    );
    expect(new Date(info.suggestedWindow.start).getTime()).toBeGreaterThan(Date.now());
    const second = await issue(client, ids, { replaces: certId });
    expect((second.order as unknown as { replaces: string }).replaces).toBe(certId);
    expect(serialOf(second.leaf)).not.toBe(serialOf(first.leaf));

    await client.revokeCertificate(second.pem, { reason: 5 });
    expect(await env.h.ca.status(serialOf(second.leaf))).toMatchObject({ status: "revoked", reason: 5 });
  });

  it("with EAB: auto() for a .localhost name", async () => {
    const { kid, hmacKey } = await newEab(env);
    const client = new acme.Client({
      directoryUrl: env.h.directoryUrl,
      accountKey: await acme.crypto.createPrivateEcdsaKey(),
      externalAccountBinding: { kid, hmacKey },
    });
    const [, csr] = await acme.crypto.createCsr(
      { commonName: "client-b.localhost" },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    const pem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ["http-01"],
      skipChallengeVerification: true,
      challengeCreateFn: async (_a, ch, ka) => void tokens.set(ch.token, ka),
      challengeRemoveFn: async () => {},
    });
    const certs = pemCerts(pem);
    expect(opensslVerify(env, certs[0]!, certs.slice(1).join(""))).toMatch(/OK$/);
    const bound = await env.h.db.get<{ n: number }>("SELECT count(*) AS n FROM acme_accounts WHERE eab_kid = ?", [kid]);
    expect(bound!.n).toBe(1);
  });
});
