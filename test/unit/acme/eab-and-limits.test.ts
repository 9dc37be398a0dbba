// appliance/acme/eab.ts (EAB JWS and pre-authorisation patterns) and rate-limits.ts (GCRA buckets).
import { generateKeyPairSync } from "node:crypto";
import { FlattenedSign } from "jose";
import { describe, expect, it } from "vitest";
import {
  type EabCredential,
  parseEabJws,
  parsePattern,
  preAuthorized,
  verifyEab,
} from "../../../appliance/acme/eab.js";
import { importAccountJwk } from "../../../appliance/acme/jws.js";
import { isAcmeProblem } from "../../../appliance/acme/problems.js";
import { RateLimiter } from "../../../appliance/acme/rate-limits.js";

const NEW_ACCOUNT = "https://127.0.0.1:8443/acme/new-account";

async function problemOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    if (typeof p === "function") p();
    else await p;
  } catch (e) {
    return isAcmeProblem(e) ? e.type : `other: ${e}`;
  }
  return undefined;
}

describe("EAB", () => {
  const hmacKey = Buffer.alloc(32, 7);
  const cred: EabCredential = {
    kid: "eab-1",
    hmacKey,
    label: "line 3",
    identifiers: [],
    reusable: false,
    createdAt: new Date(),
    boundAccounts: 0,
  };
  const account = importAccountJwk(
    generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }) as Record<string, unknown>,
  );
  const mac = (header: Record<string, unknown>, payload: unknown, key = hmacKey) =>
    new FlattenedSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader(header as never).sign(key);

  it("verifies an HS256 binding over the account key", async () => {
    const eab = await mac({ alg: "HS256", kid: "eab-1", url: NEW_ACCOUNT }, account.jwk);
    const { kid, jws } = parseEabJws(eab, NEW_ACCOUNT);
    expect(kid).toBe("eab-1");
    expect(await problemOf(verifyEab(jws, cred, account.jwk, new Date()))).toBeUndefined();
  });

  it("refuses wrong MAC key, other account key, nonce, wrong url, other algorithms, used or revoked credentials", async () => {
    const other = importAccountJwk(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" }) as Record<string, unknown>,
    );
    const good = parseEabJws(await mac({ alg: "HS256", kid: "eab-1", url: NEW_ACCOUNT }, account.jwk), NEW_ACCOUNT).jws;
    const wrongKey = parseEabJws(
      await mac({ alg: "HS256", kid: "eab-1", url: NEW_ACCOUNT }, account.jwk, Buffer.alloc(32, 8)),
      NEW_ACCOUNT,
    ).jws;
    expect(await problemOf(verifyEab(wrongKey, cred, account.jwk, new Date()))).toBe("unauthorized");
    expect(await problemOf(verifyEab(good, cred, other.jwk, new Date()))).toBe("unauthorized");
    expect(await problemOf(verifyEab(good, { ...cred, boundAccounts: 1 }, account.jwk, new Date()))).toBe(
      "unauthorized",
    );
    expect(
      await problemOf(verifyEab(good, { ...cred, boundAccounts: 3, reusable: true }, account.jwk, new Date())),
    ).toBeUndefined();
    expect(await problemOf(verifyEab(good, { ...cred, revokedAt: new Date() }, account.jwk, new Date()))).toBe(
      "unauthorized",
    );
    expect(await problemOf(verifyEab(good, { ...cred, expiresAt: new Date(0) }, account.jwk, new Date()))).toBe(
      "unauthorized",
    );
    const withNonce = await mac({ alg: "HS256", kid: "eab-1", url: NEW_ACCOUNT, nonce: "n" }, account.jwk);
    expect(await problemOf(() => parseEabJws(withNonce, NEW_ACCOUNT))).toBe("malformed");
    const wrongUrl = await mac({ alg: "HS256", kid: "eab-1", url: `${NEW_ACCOUNT}x` }, account.jwk);
    expect(await problemOf(() => parseEabJws(wrongUrl, NEW_ACCOUNT))).toBe("unauthorized");
    const hs512 = await mac({ alg: "HS512", kid: "eab-1", url: NEW_ACCOUNT }, account.jwk, Buffer.alloc(64, 7));
    expect(await problemOf(() => parseEabJws(hs512, NEW_ACCOUNT))).toBe("badSignatureAlgorithm");
  });

  it("pre-authorisation patterns: exact names, subtrees, networks", () => {
    const pats = ["plc7.line3.plant", "*.cell2.plant", "10.20.0.0/16", "fd00::/8", "192.0.2.7"];
    const yes = [
      { type: "dns", value: "plc7.line3.plant" },
      { type: "dns", value: "a.cell2.plant" },
      { type: "dns", value: "a.b.cell2.plant" },
      { type: "ip", value: "10.20.255.1" },
      { type: "ip", value: "fd12::1" },
      { type: "ip", value: "192.0.2.7" },
    ] as const;
    const no = [
      { type: "dns", value: "plc8.line3.plant" },
      { type: "dns", value: "cell2.plant" },
      { type: "dns", value: "*.cell2.plant" },
      { type: "dns", value: "xcell2.plant" },
      { type: "ip", value: "10.21.0.1" },
      { type: "ip", value: "fe80::1" },
      { type: "ip", value: "192.0.2.8" },
    ] as const;
    for (const id of yes) expect(preAuthorized(pats, id), id.value).toBe(true);
    for (const id of no) expect(preAuthorized(pats, id), id.value).toBe(false);
    for (const bad of ["10.0.0.0/33", "*.", "a..b", "10.0.0.0/x"])
      expect(() => parsePattern(bad), bad).toThrow(RangeError);
  });
});

describe("RateLimiter", () => {
  it("allows a burst of count, then answers with Retry-After, and refills", () => {
    let t = 0;
    const rl = new RateLimiter(
      {
        newAccountsPerAddress: { count: 3, periodSeconds: 30 },
        newOrdersPerAccount: { count: 1, periodSeconds: 1 },
        newOrdersPerAddress: { count: 1, periodSeconds: 1 },
        failedValidationsPerAccount: { count: 2, periodSeconds: 60 },
        failedValidationsPerAddress: { count: 5, periodSeconds: 60 },
      },
      () => t,
    );
    for (let i = 0; i < 3; i++) rl.take("newAccountsPerAddress", "127.0.0.1", "accounts");
    let err: unknown;
    try {
      rl.take("newAccountsPerAddress", "127.0.0.1", "accounts");
    } catch (e) {
      err = e;
    }
    expect(isAcmeProblem(err, "rateLimited")).toBe(true);
    expect((err as { retryAfter: number }).retryAfter).toBe(10);
    rl.take("newAccountsPerAddress", "127.0.0.2", "accounts"); // other keys are independent
    t = 10_000;
    rl.take("newAccountsPerAddress", "127.0.0.1", "accounts");
    // failures are counted after the fact and checked before new work
    rl.spend("failedValidationsPerAccount", "acc");
    rl.spend("failedValidationsPerAccount", "acc");
    expect(rl.peek("failedValidationsPerAccount", "acc")).toBeGreaterThan(0);
    expect(() => rl.check("failedValidationsPerAccount", "acc", "failures")).toThrow();
    expect(rl.peek("failedValidationsPerAccount", "acc")).toBeGreaterThan(0); // check spends nothing
    // failures per address are a bucket of their own (5 per 60 s here)
    expect(rl.peek("failedValidationsPerAddress", "127.0.0.1")).toBe(0);
    for (let i = 0; i < 5; i++) rl.spend("failedValidationsPerAddress", "127.0.0.1");
    expect(rl.peek("failedValidationsPerAddress", "127.0.0.1")).toBe(12);
    expect(rl.peek("failedValidationsPerAddress", "127.0.0.2")).toBe(0);
  });
});
