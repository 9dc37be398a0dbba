// A key pair on a token: its public key as SPKI/KeyObject, X.509-ready signatures (DER ECDSA,
// PKCS#1 v1.5, PSS, Ed25519) and the security attributes ceremonies record.
import { createHash, type KeyObject } from "node:crypto";
import type * as Pkcs11Js from "pkcs11js";
import { HsmError } from "./errors.js";
import { ecPointToKeyObject, ed25519PointToKeyObject, rawEcdsaToDer, rsaToKeyObject } from "./encoding.js";
import {
  algorithmFits,
  defaultSignatureAlgorithm,
  hashOf,
  type KeySpec,
  maxSignatureSize,
  type SignatureAlgorithm,
} from "./key-spec.js";
import { C, CKM_EDDSA } from "./pkcs11-constants.js";
import { formatPkcs11Uri } from "./pkcs11-uri.js";

/** What an HsmKey needs from its token (kept narrow so keys can be tested and moved). */
export interface KeyHandleSource {
  readonly label: string;
  readonly epoch: number;
  privateKeyHandle(id: Buffer): Pkcs11Js.Handle;
  withSession<T>(op: string, fn: (lib: Pkcs11Js.PKCS11, session: Pkcs11Js.Handle) => T): T;
  withSigningSession<T>(op: string, fn: (lib: Pkcs11Js.PKCS11, session: Pkcs11Js.Handle) => Promise<T>): Promise<T>;
}

export type PublicInfo =
  | { keyType: "rsa"; modulus: Buffer; exponent: Buffer }
  | { keyType: "ec" | "ed25519"; point: Buffer; params: Buffer };

export interface KeyAttributes {
  label: string;
  id: string;
  keyType: KeySpec;
  token: boolean;
  private: boolean;
  sensitive: boolean;
  alwaysSensitive: boolean;
  extractable: boolean;
  neverExtractable: boolean;
  local: boolean;
  sign: boolean;
  decrypt: boolean;
  unwrap: boolean;
  derive: boolean;
}

const PSS: Record<string, { mech: number; hashAlg: number; mgf: number; saltLen: number }> = {
  "rsa-pss-sha256": { mech: 0x43, hashAlg: 0x250, mgf: 2, saltLen: 32 },
  "rsa-pss-sha384": { mech: 0x44, hashAlg: 0x260, mgf: 3, saltLen: 48 },
  "rsa-pss-sha512": { mech: 0x45, hashAlg: 0x270, mgf: 4, saltLen: 64 },
};
const PKCS1: Record<string, number> = { "rsa-pkcs1-sha256": 0x40, "rsa-pkcs1-sha384": 0x41, "rsa-pkcs1-sha512": 0x42 };

function mechanismFor(alg: SignatureAlgorithm): Pkcs11Js.Mechanism {
  if (alg.startsWith("ecdsa-")) return { mechanism: C.CKM_ECDSA!, parameter: undefined };
  if (alg === "ed25519") return { mechanism: CKM_EDDSA, parameter: undefined };
  const pkcs1 = PKCS1[alg];
  if (pkcs1 !== undefined) return { mechanism: pkcs1, parameter: undefined };
  const pss = PSS[alg]!;
  return {
    mechanism: pss.mech,
    parameter: {
      hashAlg: pss.hashAlg,
      mgf: pss.mgf,
      saltLen: pss.saltLen,
      type: C.CK_PARAMS_RSA_PSS!,
    } as unknown as Pkcs11Js.IParams,
  };
}

export class HsmKey {
  readonly label: string;
  readonly id: Buffer;
  readonly spec: KeySpec;
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo, DER */
  readonly spki: Buffer<ArrayBuffer>;
  private handle: Pkcs11Js.Handle | undefined;
  private handleEpoch = -1;
  private readonly sigSize: number;

  constructor(
    private readonly token: KeyHandleSource,
    info: { id: Buffer; label: string; spec: KeySpec; pub: PublicInfo },
  ) {
    this.label = info.label;
    this.id = info.id;
    this.spec = info.spec;
    const pub = info.pub;
    if (pub.keyType === "rsa") this.publicKey = rsaToKeyObject(pub.modulus, pub.exponent);
    else if (pub.keyType === "ed25519") this.publicKey = ed25519PointToKeyObject(pub.point);
    else this.publicKey = ecPointToKeyObject(pub.point, info.spec as "P-256" | "P-384");
    this.spki = Buffer.from(this.publicKey.export({ type: "spki", format: "der" }));
    this.sigSize = maxSignatureSize(this.spec);
  }

  get defaultAlgorithm(): SignatureAlgorithm {
    return defaultSignatureAlgorithm(this.spec);
  }

  /** RFC 7512 URI of the private key */
  get uri(): string {
    return formatPkcs11Uri({ token: this.token.label, object: this.label, type: "private", id: this.id });
  }

  private privateHandle(): Pkcs11Js.Handle {
    if (this.handle === undefined || this.handleEpoch !== this.token.epoch) {
      this.handle = this.token.privateKeyHandle(this.id);
      this.handleEpoch = this.token.epoch;
    }
    return this.handle;
  }

  private checkAlg(alg: SignatureAlgorithm): void {
    if (!algorithmFits(this.spec, alg))
      throw new HsmError("unsupported", `${alg} cannot be used with a ${this.spec} key`);
  }

  /** What the token's C_Sign gets: the digest for ECDSA, the message for the rest. */
  private input(data: Uint8Array, alg: SignatureAlgorithm): Buffer {
    if (alg.startsWith("ecdsa-")) return createHash(hashOf(alg)!).update(data).digest();
    return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  private finish(sig: Buffer, alg: SignatureAlgorithm, raw: boolean): Buffer {
    const out = Buffer.from(sig); // copy: pkcs11js returns a view of the output buffer
    return alg.startsWith("ecdsa-") && !raw ? rawEcdsaToDer(out) : out;
  }

  /**
   * Signs synchronously on the control session. Fast for ECDSA/Ed25519 (~50 µs); prefer `sign()` for RSA.
   * ECDSA output is DER (X.509/node:crypto), unless `raw` asks for r||s (WebCrypto).
   */
  signSync(data: Uint8Array, alg: SignatureAlgorithm = this.defaultAlgorithm, raw = false): Buffer {
    this.checkAlg(alg);
    const input = this.input(data, alg);
    const mech = mechanismFor(alg);
    const sig = this.token.withSession("C_Sign", (lib, s) => {
      const h = this.privateHandle();
      lib.C_SignInit(s, mech, h);
      return lib.C_Sign(s, input, Buffer.allocUnsafe(this.sigSize));
    });
    return this.finish(sig, alg, raw);
  }

  /**
   * Signs without blocking the event loop for slow mechanisms: RSA runs on a pooled session in the
   * libuv threadpool; ECDSA/Ed25519 sign inline (the async hop costs more than the signature).
   */
  async sign(data: Uint8Array, alg: SignatureAlgorithm = this.defaultAlgorithm, raw = false): Promise<Buffer> {
    this.checkAlg(alg);
    if (!alg.startsWith("rsa-")) return this.signSync(data, alg, raw);
    const input = this.input(data, alg);
    const mech = mechanismFor(alg);
    const sig = await this.token.withSigningSession(
      "C_Sign",
      (lib, s) =>
        new Promise<Buffer>((resolve, reject) => {
          try {
            lib.C_SignInit(s, mech, this.privateHandle());
            lib.C_Sign(s, input, Buffer.allocUnsafe(this.sigSize), (err, out) => (err ? reject(err) : resolve(out)));
          } catch (e) {
            reject(e);
          }
        }),
    );
    return this.finish(sig, alg, raw);
  }

  /** Reads back the private key's security attributes from the token. */
  attributes(): KeyAttributes {
    const names = [
      ["token", C.CKA_TOKEN!],
      ["private", C.CKA_PRIVATE!],
      ["sensitive", C.CKA_SENSITIVE!],
      ["alwaysSensitive", C.CKA_ALWAYS_SENSITIVE!],
      ["extractable", C.CKA_EXTRACTABLE!],
      ["neverExtractable", C.CKA_NEVER_EXTRACTABLE!],
      ["local", C.CKA_LOCAL!],
      ["sign", C.CKA_SIGN!],
      ["decrypt", C.CKA_DECRYPT!],
      ["unwrap", C.CKA_UNWRAP!],
      ["derive", C.CKA_DERIVE!],
    ] as const;
    const values = this.token.withSession("C_GetAttributeValue", (lib, s) =>
      lib.C_GetAttributeValue(
        s,
        this.privateHandle(),
        names.map(([, type]) => ({ type })),
      ),
    );
    const out: Record<string, unknown> = { label: this.label, id: this.id.toString("hex"), keyType: this.spec };
    names.forEach(([name], i) => {
      const v = values[i]!.value as Buffer;
      out[name] = v.length > 0 && v[0] !== 0;
    });
    return out as unknown as KeyAttributes;
  }
}
