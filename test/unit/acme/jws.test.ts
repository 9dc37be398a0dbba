// appliance/acme/jws.ts: strict flattened JWS parsing, protected-header rules, account-key import
// and signature verification (cross-checked against jose for every accepted algorithm).
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, FlattenedSign } from "jose";
import { describe, expect, it } from "vitest";
import {
  ACCOUNT_ALGORITHMS,
  type AccountAlgorithm,
  decodePayload,
  type FlattenedJws,
  importAccountJwk,
  parseFlattenedJws,
  parseProtectedHeader,
  verifyJwsSignature,
} from "../../../appliance/acme/jws.js";
import { isAcmeProblem } from "../../../appliance/acme/problems.js";

const URL = "https://127.0.0.1:8443/acme/new-order";
const KID = "https://127.0.0.1:8443/acme/acct/abc";

function keyFor(alg: AccountAlgorithm): { priv: KeyObject; pub: KeyObject } {
  const k =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : alg === "ES384"
        ? generateKeyPairSync("ec", { namedCurve: "P-384" })
        : alg === "EdDSA"
          ? generateKeyPairSync("ed25519")
          : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { priv: k.privateKey, pub: k.publicKey };
}

async function sign(
  alg: string,
  priv: KeyObject,
  header: Record<string, unknown>,
  payload: string,
): Promise<FlattenedJws> {
  const s = await new FlattenedSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg, ...header })
    .sign(priv);
  return s as FlattenedJws;
}

function b64(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString("base64url");
}

function problemType(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (isAcmeProblem(e)) return e.type;
    throw e;
  }
  return undefined;
}

describe("verifyJwsSignature agrees with jose", () => {
  for (const alg of ACCOUNT_ALGORITHMS) {
    it(`${alg}: a jose signature verifies, a tampered one does not`, async () => {
      const { priv, pub } = keyFor(alg);
      const jwk = pub.export({ format: "jwk" }) as Record<string, unknown>;
      const key = importAccountJwk(jwk);
      expect(key.thumbprint).toBe(await calculateJwkThumbprint(jwk as never));
      const jws = await sign(alg, priv, { nonce: "n", url: URL, jwk }, '{"a":1}');
      expect(verifyJwsSignature(jws, alg, key)).toBe(true);
      expect(verifyJwsSignature({ ...jws, payload: b64({ a: 2 }) }, alg, key)).toBe(false);
      const sig = Buffer.from(jws.signature, "base64url");
      sig[5] = sig[5]! ^ 1;
      expect(verifyJwsSignature({ ...jws, signature: sig.toString("base64url") }, alg, key)).toBe(false);
      expect(
        verifyJwsSignature(
          { ...jws, signature: Buffer.concat([sig, Buffer.from([0])]).toString("base64url") },
          alg,
          key,
        ),
      ).toBe(false);
    });
  }

  it("refuses an algorithm that does not fit the key", async () => {
    const { priv, pub } = keyFor("ES256");
    const key = importAccountJwk(pub.export({ format: "jwk" }) as Record<string, unknown>);
    const jws = await sign("ES256", priv, { nonce: "n", url: URL, kid: KID }, "{}");
    expect(verifyJwsSignature(jws, "ES384", key)).toBe(false);
    expect(verifyJwsSignature(jws, "RS256", key)).toBe(false);
  });
});

describe("parseFlattenedJws", () => {
  it("accepts exactly protected, payload and signature", () => {
    expect(parseFlattenedJws('{"protected":"e30","payload":"","signature":"AA"}')).toEqual({
      protected: "e30",
      payload: "",
      signature: "AA",
    });
  });
  it("refuses other serializations and members", () => {
    for (const body of [
      "not json",
      "[]",
      "e30.e30.AA",
      '{"protected":"e30","payload":"","signature":"AA","header":{"kid":"x"}}',
      '{"protected":"e30","payload":"","signatures":[]}',
      '{"protected":"e30","payload":""}',
      '{"protected":"e30","payload":1,"signature":"AA"}',
      '{"protected":"e3=","payload":"","signature":"AA"}',
      '{"protected":"","payload":"","signature":"AA"}',
      '{"protected":"e30","payload":"","signature":"AA","extra":1}',
    ])
      expect(
        problemType(() => parseFlattenedJws(body)),
        body,
      ).toBe("malformed");
  });
});

describe("parseProtectedHeader", () => {
  const jwk = { kty: "EC", crv: "P-256", x: "x", y: "y" };
  const jws = (h: unknown) => ({ protected: b64(h), payload: "", signature: "AA" });

  it("accepts a kid header and a jwk header", () => {
    expect(parseProtectedHeader(jws({ alg: "ES256", nonce: "n", url: URL, kid: KID }), URL)).toEqual({
      alg: "ES256",
      nonce: "n",
      url: URL,
      kid: KID,
    });
    expect(parseProtectedHeader(jws({ alg: "EdDSA", nonce: "n", url: URL, jwk }), URL).jwk).toEqual(jwk);
  });

  it("applies every RFC 8555 §6.2 rule with the right problem type", () => {
    const cases: Array<[unknown, string]> = [
      [{ alg: "none", nonce: "n", url: URL, kid: KID }, "badSignatureAlgorithm"],
      [{ alg: "HS256", nonce: "n", url: URL, kid: KID }, "badSignatureAlgorithm"],
      [{ alg: "RS1", nonce: "n", url: URL, kid: KID }, "badSignatureAlgorithm"],
      [{ nonce: "n", url: URL, kid: KID }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: URL, kid: KID, jwk }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: URL }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: "https://127.0.0.1:8443/acme/new-account", kid: KID }, "unauthorized"],
      [{ alg: "ES256", nonce: "n", kid: KID }, "malformed"],
      [{ alg: "ES256", url: URL, kid: KID }, "badNonce"],
      [{ alg: "ES256", nonce: "", url: URL, kid: KID }, "badNonce"],
      [{ alg: "ES256", nonce: "n", url: URL, kid: KID, crit: ["b64"], b64: false }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: URL, kid: 7 }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: URL, jwk: "k" }, "malformed"],
      [{ alg: "ES256", nonce: "n", url: URL, kid: KID, x5c: [] }, "malformed"],
    ];
    for (const [h, type] of cases)
      expect(
        problemType(() => parseProtectedHeader(jws(h), URL)),
        JSON.stringify(h),
      ).toBe(type);
    expect(
      problemType(() => parseProtectedHeader({ protected: "bm90IGpzb24", payload: "", signature: "AA" }, URL)),
    ).toBe("malformed");
  });

  it("inner JWS (keyChange) must not carry a nonce", () => {
    expect(parseProtectedHeader(jws({ alg: "ES256", url: URL, jwk }), URL, false).nonce).toBeUndefined();
    expect(problemType(() => parseProtectedHeader(jws({ alg: "ES256", nonce: "n", url: URL, jwk }), URL, false))).toBe(
      "malformed",
    );
  });
});

describe("importAccountJwk", () => {
  it("refuses symmetric, private, small, odd and unknown keys", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pubJwk = ec.publicKey.export({ format: "jwk" }) as Record<string, string>;
    const privJwk = ec.privateKey.export({ format: "jwk" }) as Record<string, string>;
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });
    const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey.export({ format: "jwk" });
    const x25519 = generateKeyPairSync("x25519").publicKey.export({ format: "jwk" });
    const cases: Array<Record<string, unknown>> = [
      { kty: "oct", k: "c2VjcmV0" },
      privJwk,
      rsa1024 as Record<string, unknown>,
      p521 as Record<string, unknown>,
      x25519 as Record<string, unknown>,
      { ...pubJwk, x: pubJwk.x!.slice(2) },
      { ...pubJwk, y: Buffer.alloc(32, 1).toString("base64url") }, // not on the curve
      { kty: "EC", crv: "P-256" },
    ];
    for (const jwk of cases)
      expect(
        problemType(() => importAccountJwk(jwk)),
        JSON.stringify(jwk).slice(0, 60),
      ).toBe("badPublicKey");
    expect(importAccountJwk(pubJwk).jwk).toEqual({ kty: "EC", crv: "P-256", x: pubJwk.x, y: pubJwk.y });
  });
});

describe("decodePayload", () => {
  it("empty payload is POST-as-GET; otherwise a JSON object", () => {
    expect(decodePayload({ protected: "e30", payload: "", signature: "AA" })).toBeUndefined();
    expect(decodePayload({ protected: "e30", payload: b64({}), signature: "AA" })).toEqual({});
    expect(problemType(() => decodePayload({ protected: "e30", payload: b64([1]), signature: "AA" }))).toBe(
      "malformed",
    );
    expect(problemType(() => decodePayload({ protected: "e30", payload: b64("s"), signature: "AA" }))).toBe(
      "malformed",
    );
  });
});
