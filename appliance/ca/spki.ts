// SubjectPublicKeyInfo parsing into typed key material (RSA n/e, EC curve + point, Ed25519), the
// input of the key policy. Strict DER; anything else is refused as a bad key. Pure.
import { clip } from "../clip.js";
import { ApplianceError } from "../errors.js";
import { children, content, DerError, expectTag, oidToString, readUint, readWhole } from "./der.js";

export type PublicKeyInfo =
  | { type: "rsa"; n: bigint; e: bigint; bits: number }
  | { type: "ec"; curve: "P-256" | "P-384"; x: bigint; y: bigint; point: Buffer }
  | { type: "ed25519"; point: Buffer };

const CURVES: Record<string, "P-256" | "P-384"> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
};

export const toBigInt = (b: Buffer): bigint => (b.length ? BigInt(`0x${b.toString("hex")}`) : 0n);

export function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** Parses a DER SPKI. Throws ApplianceError("badKey") with a reason for anything unsupported. */
export function parseSpki(spki: Buffer): PublicKeyInfo {
  try {
    const top = expectTag(readWhole(spki), 0x30, "SubjectPublicKeyInfo");
    const [algT, keyT, ...rest] = children(spki, top);
    if (rest.length) throw new DerError("extra fields in SubjectPublicKeyInfo");
    const alg = children(spki, expectTag(algT, 0x30, "AlgorithmIdentifier"));
    const algOid = oidToString(content(spki, expectTag(alg[0], 0x06, "algorithm")));
    const bits = content(spki, expectTag(keyT, 0x03, "subjectPublicKey"));
    if (bits[0] !== 0) throw new DerError("subjectPublicKey has unused bits");
    const key = bits.subarray(1);
    switch (algOid) {
      case "1.2.840.113549.1.1.1": {
        if (alg.length !== 2 || alg[1]!.tag !== 0x05 || alg[1]!.end - alg[1]!.contentStart !== 0)
          throw new DerError("rsaEncryption parameters must be NULL");
        const rsa = expectTag(readWhole(key), 0x30, "RSAPublicKey");
        const [nT, eT, ...more] = children(key, rsa);
        if (more.length || !nT || !eT) throw new DerError("RSAPublicKey must hold exactly n and e");
        const n = toBigInt(readUint(key, nT));
        const e = toBigInt(readUint(key, eT));
        return { type: "rsa", n, e, bits: bitLength(n) };
      }
      case "1.2.840.10045.2.1": {
        const p = alg[1];
        if (alg.length !== 2 || p?.tag !== 0x06)
          throw new ApplianceError("badKey", "EC keys must name their curve (explicit parameters are refused)");
        const curveOid = oidToString(content(spki, p));
        const curve = CURVES[curveOid];
        if (!curve)
          throw new ApplianceError("badKey", `EC curve ${clip(curveOid)} is not allowed (P-256 and P-384 are)`);
        const size = curve === "P-256" ? 32 : 48;
        if (key[0] !== 0x04)
          throw new ApplianceError(
            "badKey",
            "EC public keys must be uncompressed points (compressed points are refused)",
          );
        if (key.length !== 1 + 2 * size)
          throw new ApplianceError("badKey", `EC point has the wrong length for ${curve}`);
        return {
          type: "ec",
          curve,
          x: toBigInt(key.subarray(1, 1 + size)),
          y: toBigInt(key.subarray(1 + size)),
          point: Buffer.from(key),
        };
      }
      case "1.3.101.112": {
        if (alg.length !== 1) throw new DerError("Ed25519 has no parameters");
        if (key.length !== 32) throw new DerError("Ed25519 key must be 32 bytes");
        return { type: "ed25519", point: Buffer.from(key) };
      }
      case "1.2.840.113549.1.1.10":
        throw new ApplianceError("badKey", "RSASSA-PSS-only keys are not accepted; use an rsaEncryption key");
      default:
        throw new ApplianceError("badKey", `public key algorithm ${clip(algOid)} is not supported`);
    }
  } catch (e) {
    if (e instanceof ApplianceError) throw e;
    throw new ApplianceError("badKey", `public key cannot be parsed: ${(e as Error).message}`);
  }
}
