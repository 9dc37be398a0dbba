// Key policy arithmetic (goodkey.ts): integer square root, Fermat factoring, ROCA fingerprint
// (no false positives on ordinary keys), EC point checks, and robustness of the DER/OCSP/CSR
// parsers against arbitrary bytes (property tests: only typed errors, never a crash).
import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCertificate } from "../../appliance/ca/cert-parse.js";
import { parseCsr } from "../../appliance/ca/csr.js";
import { DerError } from "../../appliance/ca/der.js";
import { fermatFactor, isqrt, KeyPolicy, rocaFingerprint } from "../../appliance/ca/goodkey.js";
import { parseOcspRequest } from "../../appliance/ca/ocsp.js";
import { parseSpki } from "../../appliance/ca/spki.js";
import { canonicalJson } from "../../appliance/audit/chain.js";
import { isApplianceError } from "../../appliance/errors.js";

describe("goodkey arithmetic", () => {
  it("isqrt is the floor square root", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 600n }), (n) => {
        const r = isqrt(n);
        return r * r <= n && (r + 1n) * (r + 1n) > n;
      }),
    );
  });
  it("Fermat finds close primes and not distant ones", () => {
    const p = 1000000007n;
    const q = 1000000009n;
    expect(fermatFactor(p * q, 100)).toEqual([q, p]);
    expect(fermatFactor(1000000007n * 998244353n, 100)).toBeUndefined();
  });
  it("ordinary RSA keys do not carry the ROCA fingerprint", () => {
    for (let i = 0; i < 3; i++) {
      const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const k = parseSpki(Buffer.from(publicKey.export({ type: "spki", format: "der" })));
      expect(k.type === "rsa" && rocaFingerprint(k.n)).toBe(false);
      expect(() => new KeyPolicy().checkKey(k)).not.toThrow();
    }
  });
  it("refuses fewer than 100 Fermat rounds", () => {
    expect(() => new KeyPolicy({ ...new KeyPolicy().config, fermatRounds: 10 })).toThrow(/at least 100/);
  });
  it("EC: P-256 and P-384 accepted; coordinates beyond the field refused", () => {
    const policy = new KeyPolicy();
    for (const curve of ["prime256v1", "secp384r1"]) {
      const { publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      expect(() => policy.check(Buffer.from(publicKey.export({ type: "spki", format: "der" })))).not.toThrow();
    }
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spki = Buffer.from(publicKey.export({ type: "spki", format: "der" }));
    spki.fill(0xff, spki.length - 64, spki.length - 32); // x = 2^256 - 1 > p
    expect(() => policy.check(spki)).toThrow(/exceed the field/);
  });
});

describe("parsers never crash on arbitrary input", () => {
  const typed = (f: () => unknown) => {
    try {
      f();
      return true;
    } catch (e) {
      return e instanceof DerError || isApplianceError(e);
    }
  };
  it("OCSP requests, CSRs, certificates, SPKIs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        return (
          typed(() => parseOcspRequest(b)) &&
          typed(() => parseCsr(b)) &&
          typed(() => parseCertificate(b)) &&
          typed(() => parseSpki(b))
        );
      }),
      { numRuns: 3000 },
    );
  });
  it("DER-shaped garbage (a SEQUENCE of random TLVs) too", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })), { maxLength: 8 }),
        (parts) => {
          const inner = Buffer.concat(
            parts.map(([t, v]) => Buffer.concat([Buffer.from([t, v.length]), Buffer.from(v)])),
          );
          const b = Buffer.concat([Buffer.from([0x30, 0x81, inner.length & 0xff]), inner]);
          return typed(() => parseOcspRequest(b)) && typed(() => parseCsr(b)) && typed(() => parseCertificate(b));
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("canonical JSON for audit details", () => {
  it("sorts keys at every level and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined, x: "é" }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":"é","z":1}]},"b":1}',
    );
    expect(() => canonicalJson({ f: () => 1 })).toThrow();
  });
});
