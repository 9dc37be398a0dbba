// Byte-level conversions between PKCS#11 and X.509/node:crypto: ECDSA r||s <-> DER, CKA_EC_POINT,
// RSA modulus/exponent and Ed25519 points -> SPKI KeyObjects. Pure.
import { createPublicKey, type KeyObject } from "node:crypto";
import { HsmError } from "./errors.js";

/** DER length prefix */
function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

function derInt(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLen(v.length), v]);
}

/** PKCS#11 CKM_ECDSA output (raw r||s) -> DER Ecdsa-Sig-Value (what X.509 and node:crypto expect) */
export function rawEcdsaToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new HsmError("bad-input", "raw ECDSA signature has odd length");
  const n = raw.length / 2;
  const body = Buffer.concat([derInt(raw.subarray(0, n)), derInt(raw.subarray(n))]);
  return Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
}

/** DER Ecdsa-Sig-Value -> raw r||s with each half `size` bytes (WebCrypto format) */
export function derEcdsaToRaw(der: Buffer, size: number): Buffer {
  let p = 0;
  const readLen = (): number => {
    let len = der[p++]!;
    if (len & 0x80) {
      const k = len & 0x7f;
      len = 0;
      for (let i = 0; i < k; i++) len = (len << 8) | der[p++]!;
    }
    return len;
  };
  if (der[p++] !== 0x30) throw new HsmError("bad-input", "not a DER ECDSA signature");
  readLen();
  const ints: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    if (der[p++] !== 0x02) throw new HsmError("bad-input", "not a DER ECDSA signature");
    const len = readLen();
    let v = der.subarray(p, p + len);
    p += len;
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) throw new HsmError("bad-input", "ECDSA integer too long");
    ints.push(Buffer.concat([Buffer.alloc(size - v.length), v]));
  }
  return Buffer.concat(ints);
}

/** CKA_EC_POINT is normally a DER OCTET STRING around the point; some tokens return the bare point. */
export function unwrapEcPoint(pt: Buffer): Buffer {
  if (pt[0] === 0x04) {
    // could be OCTET STRING tag 0x04 or an uncompressed point 0x04; disambiguate by length
    if (pt[1] === pt.length - 2) return pt.subarray(2);
    if (pt[1] === 0x81 && pt[2] === pt.length - 3) return pt.subarray(3);
  }
  return pt;
}

export function ecPointToKeyObject(ecPoint: Buffer, curve: "P-256" | "P-384"): KeyObject {
  const pt = unwrapEcPoint(ecPoint);
  const size = curve === "P-256" ? 32 : 48;
  if (pt.length !== 1 + 2 * size || pt[0] !== 0x04) throw new HsmError("bad-input", `unexpected ${curve} EC point`);
  return createPublicKey({
    format: "jwk",
    key: {
      kty: "EC",
      crv: curve,
      x: pt.subarray(1, 1 + size).toString("base64url"),
      y: pt.subarray(1 + size).toString("base64url"),
    },
  });
}

export function ed25519PointToKeyObject(ecPoint: Buffer): KeyObject {
  let pt = ecPoint;
  if (pt.length === 34 && pt[0] === 0x04 && pt[1] === 32) pt = pt.subarray(2);
  if (pt.length !== 32) throw new HsmError("bad-input", "unexpected Ed25519 public key length");
  return createPublicKey({ format: "jwk", key: { kty: "OKP", crv: "Ed25519", x: pt.toString("base64url") } });
}

export function rsaToKeyObject(modulus: Buffer, exponent: Buffer): KeyObject {
  return createPublicKey({
    format: "jwk",
    key: { kty: "RSA", n: modulus.toString("base64url"), e: exponent.toString("base64url") },
  });
}

/** DER OIDs for CKA_EC_PARAMS */
export const EC_PARAMS = {
  "P-256": Buffer.from("06082a8648ce3d030107", "hex"),
  "P-384": Buffer.from("06052b81040022", "hex"),
  // RFC 8410 id-Ed25519 as an OID; SoftHSM also accepts the PrintableString "edwards25519"
  Ed25519: Buffer.from("06032b6570", "hex"),
} as const;
