// X.509 AlgorithmIdentifiers for the signature algorithms hsm/ produces, and verification of a
// signature over TBS bytes with node:crypto (post-issuance check). Pure.
import { type KeyObject, constants, verify } from "node:crypto";
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { ctx, derNull, int, oid, seq } from "./der.js";

const SHA_OID = {
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
} as const;

function pssParams(hash: "sha256" | "sha384" | "sha512", saltLength: number): Buffer {
  const hashAlg = seq(oid(SHA_OID[hash]), derNull());
  const mgf = seq(oid("1.2.840.113549.1.1.8"), hashAlg);
  return seq(ctx(0, true, hashAlg), ctx(1, true, mgf), ctx(2, true, int(saltLength)));
}

const ALG_ID: Record<SignatureAlgorithm, Buffer> = {
  "ecdsa-sha256": seq(oid("1.2.840.10045.4.3.2")),
  "ecdsa-sha384": seq(oid("1.2.840.10045.4.3.3")),
  "ecdsa-sha512": seq(oid("1.2.840.10045.4.3.4")),
  "rsa-pkcs1-sha256": seq(oid("1.2.840.113549.1.1.11"), derNull()),
  "rsa-pkcs1-sha384": seq(oid("1.2.840.113549.1.1.12"), derNull()),
  "rsa-pkcs1-sha512": seq(oid("1.2.840.113549.1.1.13"), derNull()),
  "rsa-pss-sha256": seq(oid("1.2.840.113549.1.1.10"), pssParams("sha256", 32)),
  "rsa-pss-sha384": seq(oid("1.2.840.113549.1.1.10"), pssParams("sha384", 48)),
  "rsa-pss-sha512": seq(oid("1.2.840.113549.1.1.10"), pssParams("sha512", 64)),
  ed25519: seq(oid("1.3.101.112")),
};

/** DER AlgorithmIdentifier for the signature algorithm (also the certificate's `signature` field). */
export function algorithmIdentifier(alg: SignatureAlgorithm): Buffer {
  return ALG_ID[alg];
}

/** The signature algorithm named by a DER AlgorithmIdentifier, if it is one we produce. */
export function signatureAlgorithmOf(algId: Buffer): SignatureAlgorithm | undefined {
  for (const [name, der] of Object.entries(ALG_ID)) if (der.equals(algId)) return name as SignatureAlgorithm;
  return undefined;
}

/** Verifies `signature` (X.509 form: DER ECDSA, raw RSA/Ed25519) over `data` with node:crypto. */
export function verifySignature(
  alg: SignatureAlgorithm,
  publicKey: KeyObject,
  data: Buffer,
  signature: Buffer,
): boolean {
  try {
    if (alg === "ed25519") return verify(null, data, publicKey, signature);
    const hash = alg.slice(alg.lastIndexOf("-") + 1);
    if (alg.startsWith("rsa-pss-"))
      return verify(
        hash,
        data,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(hash.slice(3)) / 8 },
        signature,
      );
    return verify(hash, data, publicKey, signature);
  } catch {
    return false;
  }
}
