// Key backup primitives: an AES key-encryption key made in the token (a session object), wrapping a
// CKA_EXTRACTABLE private key under it, and unwrapping such a blob into another token with a public key.
import { createPublicKey } from "node:crypto";
import type * as Pkcs11Js from "pkcs11js";
import { EC_PARAMS } from "./encoding.js";
import { HsmError, toHsmError } from "./errors.js";
import type { HsmKey } from "./key.js";
import { keyFamily, type KeySpec } from "./key-spec.js";
import { C } from "./pkcs11-constants.js";
import type { HsmToken } from "./token.js";

/**
 * RFC 5649 AES key wrap with padding. SoftHSM 2.6.1 exposes it as CKM_AES_KEY_WRAP_PAD (0x210A) and
 * answers CKR_MECHANISM_INVALID for CKM_AES_KEY_WRAP_KWP (0x210B). Measured here: both 0x210A and plain
 * RFC 3394 CKM_AES_KEY_WRAP (0x2109) wrap SoftHSM's P-256, P-384 and RSA-2048 private keys (80, 88 and
 * 1224 byte blobs), but RFC 3394 needs an encoding that is a multiple of 8 bytes, which PKCS#8 does not
 * promise on every token; the padded form works for any key. Check the target HSM before relying on 0x210A.
 */
export const CKM_AES_KEY_WRAP_PAD = 0x210a;

/** An AES key-encryption key living as a session object on a token; destroy it when done. */
export class SessionKek {
  private destroyed = false;
  constructor(
    private readonly token: HsmToken,
    private readonly handle: Pkcs11Js.Handle,
    private readonly epoch: number,
  ) {}

  /** @internal */
  use(): Pkcs11Js.Handle {
    if (this.destroyed) throw new HsmError("bad-input", "key-encryption key was destroyed");
    if (this.epoch !== this.token.epoch)
      throw new HsmError("pkcs11", "key-encryption key was lost with its session", "CKR_OBJECT_HANDLE_INVALID");
    return this.handle;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.epoch !== this.token.epoch) return; // the session object went with its session
    this.token.withSession("C_DestroyObject", (lib, s) => lib.C_DestroyObject(s, this.handle));
  }
}

/**
 * Generates a 256-bit AES KEK in the token (C_GenerateKey) that can wrap but not encrypt, and returns
 * it with its value: the caller splits the value among custodians and must wipe it.
 */
export function generateBackupKek(token: HsmToken): { kek: SessionKek; value: Buffer } {
  const epoch = token.epoch;
  return token.withSession("C_GenerateKey", (lib, s) => {
    const h = lib.C_GenerateKey(s, { mechanism: C.CKM_AES_KEY_GEN!, parameter: undefined }, [
      { type: C.CKA_CLASS!, value: C.CKO_SECRET_KEY! },
      { type: C.CKA_KEY_TYPE!, value: C.CKK_AES! },
      { type: C.CKA_TOKEN!, value: false },
      { type: C.CKA_VALUE_LEN!, value: 32 },
      { type: C.CKA_WRAP!, value: true },
      { type: C.CKA_UNWRAP!, value: false },
      { type: C.CKA_ENCRYPT!, value: false },
      { type: C.CKA_DECRYPT!, value: false },
      { type: C.CKA_SENSITIVE!, value: false },
      { type: C.CKA_EXTRACTABLE!, value: true },
    ]);
    const [v] = lib.C_GetAttributeValue(s, h, [{ type: C.CKA_VALUE! }]);
    return { kek: new SessionKek(token, h, epoch), value: Buffer.from(v!.value as Buffer) };
  });
}

/** Imports a KEK value (rebuilt from custodians' shares) as a sensitive session key that can only unwrap. */
export function importKek(token: HsmToken, value: Uint8Array): SessionKek {
  if (value.length !== 16 && value.length !== 24 && value.length !== 32)
    throw new HsmError("bad-input", "an AES key-encryption key is 16, 24 or 32 bytes");
  const epoch = token.epoch;
  const h = token.withSession("C_CreateObject", (lib, s) =>
    lib.C_CreateObject(s, [
      { type: C.CKA_CLASS!, value: C.CKO_SECRET_KEY! },
      { type: C.CKA_KEY_TYPE!, value: C.CKK_AES! },
      { type: C.CKA_TOKEN!, value: false },
      { type: C.CKA_VALUE!, value: Buffer.from(value) },
      { type: C.CKA_WRAP!, value: false },
      { type: C.CKA_UNWRAP!, value: true },
      { type: C.CKA_ENCRYPT!, value: false },
      { type: C.CKA_DECRYPT!, value: false },
      { type: C.CKA_SENSITIVE!, value: true },
      { type: C.CKA_EXTRACTABLE!, value: false },
    ]),
  );
  return new SessionKek(token, h, epoch);
}

/** Wraps the (CKA_EXTRACTABLE) private key of `key` under `kek` with RFC 5649 (CKM_AES_KEY_WRAP_PAD). */
export function wrapPrivateKey(token: HsmToken, kek: SessionKek, key: HsmKey): Buffer {
  return token.withSession("C_WrapKey", (lib, s) => {
    const out = lib.C_WrapKey(
      s,
      { mechanism: CKM_AES_KEY_WRAP_PAD, parameter: undefined },
      kek.use(),
      token.privateKeyHandle(key.id),
      Buffer.alloc(16384),
    );
    return Buffer.from(out);
  });
}

export interface UnwrapOptions {
  label: string;
  /** CKA_ID to give the recovered pair (the original key's id, so URIs keep working) */
  id: Buffer;
  spec: KeySpec;
  /** SubjectPublicKeyInfo of the original key: the public half is recreated from it */
  spki: Buffer;
  /** whether the recovered private key may itself be wrapped again; default false */
  extractable?: boolean;
}

/**
 * Unwraps a PKCS#8 blob into a token private key (sensitive, CKA_SIGN only) and creates its public
 * key object from the original SPKI, both under `label`/`id`. Refuses a label already in use.
 */
export function unwrapPrivateKey(token: HsmToken, kek: SessionKek, wrapped: Buffer, opts: UnwrapOptions): HsmKey {
  if (token.labelExists(opts.label))
    throw new HsmError("key-exists", `an object labelled "${opts.label}" already exists on token "${token.label}"`);
  const fam = keyFamily(opts.spec);
  if (fam === "ed25519") throw new HsmError("unsupported", "recovery of Ed25519 keys is not supported");
  const keyType = fam === "rsa" ? C.CKK_RSA! : C.CKK_EC!;
  const pubTemplate = publicTemplate(opts);
  try {
    token.withSession("C_UnwrapKey", (lib, s) => {
      lib.C_UnwrapKey(s, { mechanism: CKM_AES_KEY_WRAP_PAD, parameter: undefined }, kek.use(), wrapped, [
        { type: C.CKA_CLASS!, value: C.CKO_PRIVATE_KEY! },
        { type: C.CKA_KEY_TYPE!, value: keyType },
        { type: C.CKA_TOKEN!, value: true },
        { type: C.CKA_PRIVATE!, value: true },
        { type: C.CKA_SENSITIVE!, value: true },
        { type: C.CKA_EXTRACTABLE!, value: opts.extractable === true },
        { type: C.CKA_SIGN!, value: true },
        { type: C.CKA_DECRYPT!, value: false },
        { type: C.CKA_UNWRAP!, value: false },
        { type: C.CKA_DERIVE!, value: false },
        { type: C.CKA_LABEL!, value: opts.label },
        { type: C.CKA_ID!, value: opts.id },
      ]);
      lib.C_CreateObject(s, pubTemplate);
    });
  } catch (e) {
    throw toHsmError(e, "C_UnwrapKey");
  }
  return token.findKey(opts.label);
}

/** A public-key object template rebuilt from an SPKI (EC point as a DER OCTET STRING, or RSA n/e). */
function publicTemplate(opts: UnwrapOptions): Pkcs11Js.Template {
  const common: Pkcs11Js.Template = [
    { type: C.CKA_CLASS!, value: C.CKO_PUBLIC_KEY! },
    { type: C.CKA_TOKEN!, value: true },
    { type: C.CKA_PRIVATE!, value: false },
    { type: C.CKA_VERIFY!, value: true },
    { type: C.CKA_LABEL!, value: opts.label },
    { type: C.CKA_ID!, value: opts.id },
  ];
  const jwk = createPublicKey({ key: opts.spki, format: "der", type: "spki" }).export({ format: "jwk" });
  if (keyFamily(opts.spec) === "rsa") {
    if (jwk.kty !== "RSA") throw new HsmError("bad-input", "SPKI is not an RSA key");
    return [
      ...common,
      { type: C.CKA_KEY_TYPE!, value: C.CKK_RSA! },
      { type: C.CKA_MODULUS!, value: Buffer.from(jwk.n!, "base64url") },
      { type: C.CKA_PUBLIC_EXPONENT!, value: Buffer.from(jwk.e!, "base64url") },
    ];
  }
  if (jwk.kty !== "EC" || jwk.crv !== opts.spec) throw new HsmError("bad-input", `SPKI is not an EC ${opts.spec} key`);
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  const octet = Buffer.concat([Buffer.from([0x04, point.length]), point]);
  return [
    ...common,
    { type: C.CKA_KEY_TYPE!, value: C.CKK_EC! },
    { type: C.CKA_EC_PARAMS!, value: EC_PARAMS[opts.spec as "P-256" | "P-384"] },
    { type: C.CKA_EC_POINT!, value: octet },
  ];
}
