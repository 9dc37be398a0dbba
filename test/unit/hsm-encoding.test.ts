import { generateKeyPairSync, sign, verify } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { derEcdsaToRaw, rawEcdsaToDer } from "../../hsm/index.js";

describe("ECDSA signature encodings", () => {
  it("DER <-> raw conversions agree with node:crypto for P-256 and P-384", () => {
    for (const [curve, size] of [
      ["prime256v1", 32],
      ["secp384r1", 48],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: curve });
      for (let i = 0; i < 50; i++) {
        const msg = Buffer.from(`message ${i}`);
        const raw = sign("sha256", msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
        expect(raw.length).toBe(2 * size);
        const der = rawEcdsaToDer(raw);
        expect(verify("sha256", msg, publicKey, der)).toBe(true);
        expect(derEcdsaToRaw(der, size).equals(raw)).toBe(true);
      }
    }
  });

  it("round-trips arbitrary r||s values including leading zeros and high bits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (bytes) => {
        const raw = Buffer.from(bytes);
        // r and s are never zero in a real signature; the encoding must still be exact otherwise
        expect(derEcdsaToRaw(rawEcdsaToDer(raw), 32).equals(raw)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects malformed input", () => {
    expect(() => rawEcdsaToDer(Buffer.alloc(63))).toThrow(/odd length/);
    expect(() => derEcdsaToRaw(Buffer.from("3100", "hex"), 32)).toThrow(/not a DER/);
  });
});
