// Test helper: PKCS#10 CSRs built byte by byte (so tests and benchmarks can also make the odd and
// the broken ones: weak keys, foreign SAN types, bad signatures).
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { algorithmIdentifier } from "../../appliance/ca/algorithms.js";
import type { Identifier } from "../../appliance/ca/api.js";
import { bitString, ctx, int, oid, octetString, seq, set, tlv, utf8String } from "../../appliance/ca/der.js";
import { ipToBytes } from "../../appliance/ca/ip.js";
import type { SignatureAlgorithm } from "../../hsm/index.js";

export interface CsrOptions {
  /** private key that signs the CSR (omit with `signature` to force bytes) */
  privateKey?: KeyObject;
  /** SPKI DER placed in the CSR */
  spki: Buffer;
  cn?: string;
  sans?: Identifier[];
  /** raw GeneralName DER entries appended to the SAN (e.g. an rfc822Name) */
  extraSanDer?: Buffer[];
  alg?: SignatureAlgorithm;
  /** use these signature bytes instead of signing */
  signature?: Buffer;
}

export function buildCsr(o: CsrOptions): Buffer {
  const alg = o.alg ?? "ecdsa-sha256";
  const subject = o.cn === undefined ? seq() : seq(set(seq(oid("2.5.4.3"), utf8String(o.cn))));
  const attrs: Buffer[] = [];
  if (o.sans?.length || o.extraSanDer?.length) {
    const names = (o.sans ?? []).map((s) =>
      s.type === "dns" ? ctx(2, false, Buffer.from(s.value, "latin1")) : ctx(7, false, ipToBytes(s.value)!),
    );
    const san = seq(oid("2.5.29.17"), octetString(seq(...names, ...(o.extraSanDer ?? []))));
    attrs.push(seq(oid("1.2.840.113549.1.9.14"), set(seq(san))));
  }
  const info = seq(int(0), subject, o.spki, tlv(0xa0, ...attrs));
  let sig = o.signature;
  if (!sig) {
    if (!o.privateKey) throw new Error("privateKey or signature required");
    if (alg === "ed25519") sig = sign(null, info, o.privateKey);
    else sig = sign(`sha${alg.slice(-3)}`, info, o.privateKey);
  }
  return seq(info, algorithmIdentifier(alg), bitString(sig));
}

export function p256(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { privateKey, spki: Buffer.from(publicKey.export({ type: "spki", format: "der" })) };
}

/** A CSR for the identifiers, signed by a fresh P-256 key; CN = first identifier unless cn is null. */
export function csrFor(ids: Identifier[], cn: string | null = ids[0]?.value ?? null): Buffer {
  const k = p256();
  return buildCsr({ privateKey: k.privateKey, spki: k.spki, sans: ids, ...(cn !== null ? { cn } : {}) });
}
