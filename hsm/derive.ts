// Key agreement on a token: EC key pairs whose private half may only derive (CKA_DERIVE, never sign
// or decrypt), and CKM_ECDH1_DERIVE of a shared secret with a peer's public key (e.g. an officer's share key).
import type { KeyObject } from "node:crypto";
import type * as Pkcs11Js from "pkcs11js";
import { EC_PARAMS } from "./encoding.js";
import { HsmError } from "./errors.js";
import type { HsmKey } from "./key.js";
import { C } from "./pkcs11-constants.js";
import type { HsmToken } from "./token.js";

export type DeriveCurve = "P-256" | "P-384";

const FIELD_BYTES: Record<DeriveCurve, number> = { "P-256": 32, "P-384": 48 };
const CKD_NULL = 1;

/**
 * Generates an ECDH key pair on `token` under a label that must be unused. The private key is
 * sensitive, never extractable, and can only derive (CKA_SIGN/DECRYPT/UNWRAP false).
 */
export function generateDeriveKeyPair(token: HsmToken, opts: { label: string; curve?: DeriveCurve }): HsmKey {
  const curve = opts.curve ?? "P-256";
  if (!opts.label || opts.label.length > 128) throw new HsmError("bad-input", "key label must be 1..128 characters");
  if (token.labelExists(opts.label))
    throw new HsmError("key-exists", `an object labelled "${opts.label}" already exists on token "${token.label}"`);
  const id = token.random(16);
  const common = [
    { type: C.CKA_TOKEN!, value: true },
    { type: C.CKA_LABEL!, value: opts.label },
    { type: C.CKA_ID!, value: id },
    { type: C.CKA_KEY_TYPE!, value: C.CKK_EC! },
  ];
  const pub: Pkcs11Js.Template = [
    ...common,
    { type: C.CKA_CLASS!, value: C.CKO_PUBLIC_KEY! },
    { type: C.CKA_PRIVATE!, value: false },
    { type: C.CKA_VERIFY!, value: false },
    { type: C.CKA_ENCRYPT!, value: false },
    { type: C.CKA_WRAP!, value: false },
    { type: C.CKA_DERIVE!, value: true },
    { type: C.CKA_EC_PARAMS!, value: EC_PARAMS[curve] },
  ];
  const priv: Pkcs11Js.Template = [
    ...common,
    { type: C.CKA_CLASS!, value: C.CKO_PRIVATE_KEY! },
    { type: C.CKA_PRIVATE!, value: true },
    { type: C.CKA_SENSITIVE!, value: true },
    { type: C.CKA_EXTRACTABLE!, value: false },
    { type: C.CKA_SIGN!, value: false },
    { type: C.CKA_DECRYPT!, value: false },
    { type: C.CKA_UNWRAP!, value: false },
    { type: C.CKA_DERIVE!, value: true },
  ];
  token.withSession("C_GenerateKeyPair", (lib, s) =>
    lib.C_GenerateKeyPair(s, { mechanism: C.CKM_EC_KEY_PAIR_GEN!, parameter: undefined }, pub, priv),
  );
  return token.findKey(opts.label);
}

/** The uncompressed point (0x04 || X || Y) of an EC public key, as CKM_ECDH1_DERIVE wants it. */
export function uncompressedPoint(pub: KeyObject, curve: DeriveCurve): Buffer {
  const jwk = pub.export({ format: "jwk" });
  if (jwk.kty !== "EC" || jwk.crv !== curve) throw new HsmError("bad-input", `peer key is not an EC ${curve} key`);
  const x = Buffer.from(jwk.x!, "base64url");
  const y = Buffer.from(jwk.y!, "base64url");
  return Buffer.concat([Buffer.from([4]), x, y]);
}

/**
 * Raw ECDH shared secret (the X coordinate, CKD_NULL) between the token's derive key and `peer`.
 * The derived value is a session object that is read once and destroyed; the caller must wipe the
 * returned buffer after running it through a KDF. The token's private key never leaves it.
 */
export function deriveSharedSecret(token: HsmToken, key: HsmKey, peer: KeyObject): Buffer {
  if (key.spec !== "P-256" && key.spec !== "P-384")
    throw new HsmError("unsupported", `ECDH needs a P-256/P-384 key, "${key.label}" is ${key.spec}`);
  const curve = key.spec;
  const publicData = uncompressedPoint(peer, curve);
  return token.withSession("C_DeriveKey", (lib, s) => {
    const h = token.privateKeyHandle(key.id);
    const secret = lib.C_DeriveKey(
      s,
      {
        mechanism: C.CKM_ECDH1_DERIVE!,
        parameter: { type: C.CK_PARAMS_EC_DH!, kdf: CKD_NULL, publicData } as Pkcs11Js.ECDH1,
      },
      h,
      [
        { type: C.CKA_CLASS!, value: C.CKO_SECRET_KEY! },
        { type: C.CKA_KEY_TYPE!, value: C.CKK_GENERIC_SECRET! },
        { type: C.CKA_TOKEN!, value: false },
        { type: C.CKA_SENSITIVE!, value: false },
        { type: C.CKA_EXTRACTABLE!, value: true },
        { type: C.CKA_VALUE_LEN!, value: FIELD_BYTES[curve] },
      ],
    );
    try {
      const [v] = lib.C_GetAttributeValue(s, secret, [{ type: C.CKA_VALUE! }]);
      return Buffer.from(v!.value as Buffer);
    } finally {
      lib.C_DestroyObject(s, secret);
    }
  });
}
