// hsm/: the PKCS#11 layer. Open tokens by label, generate non-extractable keys, sign with X.509-ready
// encodings, RFC 7512 URIs, recovery after device errors. Knows nothing about certificates or ACME.
export { changeUserPin, initializeToken, type InitTokenOptions } from "./admin.js";
export { derEcdsaToRaw, rawEcdsaToDer } from "./encoding.js";
export { HsmError, type HsmErrorKind, RECOVERABLE_CKR } from "./errors.js";
export { HsmKey, type KeyAttributes } from "./key.js";
export {
  algorithmFits,
  defaultSignatureAlgorithm,
  hashOf,
  isKeySpec,
  KEY_SPECS,
  type KeySpec,
  keyFamily,
  parseKeySpec,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from "./key-spec.js";
export { DEFAULT_LIBRARY, Pkcs11Module } from "./module.js";
export { type PinSource, parsePinSource, readPin } from "./pin.js";
export { formatPkcs11Uri, type Pkcs11Uri, parsePkcs11Uri } from "./pkcs11-uri.js";
export { type SoftHsm, useSoftHsm } from "./softhsm.js";
export { type GenerateKeyOptions, HsmToken, type OpenTokenOptions } from "./token.js";
export { hsmCrypto, x509Signing } from "./webcrypto.js";
