// Public keys as they appear in ceremony documents: base64 SPKI DER, parsed into node KeyObjects with
// the expected curve, and key ids (SHA-256 of the SPKI). Signature checks with node:crypto. Pure.
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { CeremonyError, type CeremonyErrorKind } from "./errors.js";
import { sha256Hex } from "./jcs.js";

export const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Parses a base64 SPKI and requires an EC key on `curve`. */
export function parseEcSpki(
  b64: string,
  curve: "P-256" | "P-384",
  what: string,
  kind: CeremonyErrorKind = "bad-registry",
): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(b64, "base64"), format: "der", type: "spki" });
  } catch {
    throw new CeremonyError(kind, `${what} is not a valid SubjectPublicKeyInfo`);
  }
  const named = key.asymmetricKeyDetails?.namedCurve;
  const want = curve === "P-256" ? "prime256v1" : "secp384r1";
  if (key.asymmetricKeyType !== "ec" || named !== want)
    throw new CeremonyError(kind, `${what} must be an EC ${curve} key`);
  return key;
}

export function spkiOf(key: KeyObject): Buffer {
  return Buffer.from(key.export({ type: "spki", format: "der" }));
}

/** SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex. */
export function keyIdOf(key: KeyObject | Buffer): string {
  return sha256Hex(Buffer.isBuffer(key) ? key : spkiOf(key));
}

/** Verifies a DER ECDSA (or RSA PKCS#1) signature made over SHA-256 of `data`; never throws. */
export function verifySha256(key: KeyObject, data: Buffer, signatureB64: string): boolean {
  if (!B64.test(signatureB64)) return false;
  try {
    return verify("sha256", data, key, Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}
