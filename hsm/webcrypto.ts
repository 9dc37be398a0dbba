// A WebCrypto provider that @peculiar/x509 can build certificates and CRLs with while the signature
// itself is made by an HsmKey on the token; everything else falls through to node's WebCrypto.
import { webcrypto } from "node:crypto";
import { HsmError } from "./errors.js";
import type { HsmKey } from "./key.js";
import type { SignatureAlgorithm } from "./key-spec.js";

const HSM_KEY = Symbol("plantroot.hsmKey");

/** Stand-in CryptoKey that carries an HsmKey; the private key itself never leaves the token. */
export interface HsmCryptoKey extends CryptoKey {
  [HSM_KEY]: { key: HsmKey; alg: SignatureAlgorithm };
}

function webAlgorithm(alg: SignatureAlgorithm, key: HsmKey): Algorithm & Record<string, unknown> {
  const hash = { name: `SHA-${alg.slice(-3)}` };
  if (alg.startsWith("ecdsa-")) return { name: "ECDSA", hash, namedCurve: key.spec };
  if (alg.startsWith("rsa-pkcs1-")) return { name: "RSASSA-PKCS1-v1_5", hash };
  if (alg.startsWith("rsa-pss-")) return { name: "RSA-PSS", hash, saltLength: Number(alg.slice(-3)) / 8 };
  return { name: "Ed25519" };
}

/** The `signingKey` / `signingAlgorithm` pair to hand to @peculiar/x509 generators. */
export function x509Signing(
  key: HsmKey,
  alg: SignatureAlgorithm = key.defaultAlgorithm,
): { signingKey: CryptoKey; signingAlgorithm: Algorithm } {
  const algorithm = webAlgorithm(alg, key);
  const signingKey = {
    algorithm,
    type: "private",
    extractable: false,
    usages: ["sign"],
    [HSM_KEY]: { key, alg },
  } as unknown as HsmCryptoKey;
  return { signingKey, signingAlgorithm: algorithm };
}

function bytes(data: BufferSource): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const subtle = new Proxy(webcrypto.subtle, {
  get(target, prop) {
    if (prop === "sign") {
      return async (algorithm: AlgorithmIdentifier, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer> => {
        const hsm = (key as Partial<HsmCryptoKey>)[HSM_KEY];
        if (!hsm) return target.sign(algorithm as Algorithm, key, data);
        const name = typeof algorithm === "string" ? algorithm : algorithm.name;
        if (name !== (key.algorithm as Algorithm).name)
          throw new HsmError("bad-input", `algorithm ${name} does not match the HSM key's ${key.algorithm.name}`);
        // WebCrypto ECDSA signatures are raw r||s; @peculiar/x509 converts them to DER itself
        const sig = await hsm.key.sign(bytes(data), hsm.alg, true);
        return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength) as ArrayBuffer;
      };
    }
    const v = Reflect.get(target, prop);
    return typeof v === "function" ? v.bind(target) : v;
  },
});

/** Pass as the `crypto` argument of @peculiar/x509 generators (or `cryptoProvider.set`). */
export const hsmCrypto: Crypto = {
  subtle,
  getRandomValues: webcrypto.getRandomValues.bind(webcrypto),
  randomUUID: webcrypto.randomUUID.bind(webcrypto),
} as unknown as Crypto;
