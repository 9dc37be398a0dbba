// Key types and signature algorithms the layer supports, and how they map to PKCS#11 and X.509. Pure.
import { HsmError } from "./errors.js";

export const KEY_SPECS = ["P-256", "P-384", "RSA-2048", "RSA-3072", "RSA-4096", "Ed25519"] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const SIGNATURE_ALGORITHMS = [
  "ecdsa-sha256",
  "ecdsa-sha384",
  "ecdsa-sha512",
  "rsa-pkcs1-sha256",
  "rsa-pkcs1-sha384",
  "rsa-pkcs1-sha512",
  "rsa-pss-sha256",
  "rsa-pss-sha384",
  "rsa-pss-sha512",
  "ed25519",
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

export type KeyFamily = "ec" | "rsa" | "ed25519";

export function keyFamily(spec: KeySpec): KeyFamily {
  if (spec === "Ed25519") return "ed25519";
  return spec.startsWith("RSA") ? "rsa" : "ec";
}

export function isKeySpec(s: string): s is KeySpec {
  return (KEY_SPECS as readonly string[]).includes(s);
}

export function parseKeySpec(s: string): KeySpec {
  if (!isKeySpec(s))
    throw new HsmError("unsupported", `unsupported key type "${s}" (supported: ${KEY_SPECS.join(", ")})`);
  return s;
}

export function rsaBits(spec: KeySpec): number {
  const m = /^RSA-(\d+)$/.exec(spec);
  if (!m) throw new HsmError("bad-input", `${spec} is not an RSA key type`);
  return Number(m[1]);
}

/** The algorithm certificates signed by a key of this type use unless told otherwise. */
export function defaultSignatureAlgorithm(spec: KeySpec): SignatureAlgorithm {
  switch (spec) {
    case "P-256":
      return "ecdsa-sha256";
    case "P-384":
      return "ecdsa-sha384";
    case "Ed25519":
      return "ed25519";
    default:
      return "rsa-pkcs1-sha256";
  }
}

export function algorithmFits(spec: KeySpec, alg: SignatureAlgorithm): boolean {
  const fam = keyFamily(spec);
  if (fam === "ec") return alg.startsWith("ecdsa-");
  if (fam === "rsa") return alg.startsWith("rsa-");
  return alg === "ed25519";
}

/** node:crypto hash name for the algorithm, or null for Ed25519 (pure EdDSA hashes internally). */
export function hashOf(alg: SignatureAlgorithm): "sha256" | "sha384" | "sha512" | null {
  if (alg === "ed25519") return null;
  return alg.slice(alg.lastIndexOf("-") + 1) as "sha256" | "sha384" | "sha512";
}

/** Maximum signature size in bytes, for output buffers. */
export function maxSignatureSize(spec: KeySpec): number {
  switch (spec) {
    case "P-256":
      return 64;
    case "P-384":
      return 96;
    case "Ed25519":
      return 64;
    default:
      return rsaBits(spec) / 8;
  }
}
