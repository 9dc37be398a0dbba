// The pure building surface of appliance/ca for other components (ceremonies, tests): profiles as
// data, TBS building for CA certificates, device certificates and CRLs, signing helpers. No I/O.
export { algorithmIdentifier, signatureAlgorithmOf, verifySignature } from "./algorithms.js";
export {
  authorityKeyIdOf,
  derToPem,
  type ParsedCertificate,
  type ParsedExtension,
  parseCertificate,
  pemToDer,
  subjectKeyIdOf,
} from "./cert-parse.js";
export {
  algorithmFitsKey,
  assembleSigned,
  type CaCertificateParams,
  checkSerial,
  finishSigned,
  type IssuerRef,
  issuerFromCertificate,
  newSerial,
  type Prepared,
  prepareCertificate,
  sha256,
  type Signer,
  signPrepared,
  spkiToKey,
} from "./certificate.js";
export { type CrlEntry, type CrlParams, isRevocationReason, prepareCrl, REVOCATION_REASONS } from "./crl.js";
export { EKU_OIDS, type EkuName, KEY_USAGES, type KeyUsageName, keyIdentifier } from "./extensions.js";
export { type LeafIssuer, type LeafParams, LeafTemplate } from "./leaf-template.js";
export {
  checkConstraints,
  dnsInSubtree,
  encodeNameConstraints,
  type NameConstraintsSpec,
  parseConstraints,
} from "./name-constraints.js";
export { type DistinguishedName, decodeName, encodeName, type NameAttribute, nameToString } from "./names.js";
export {
  assertProfile,
  type CaProfile,
  crossProfile,
  DAY,
  deviceProfiles,
  issuingSubCaProfile,
  type LeafProfile,
  type PkiUrls,
  type Profile,
  profileProblems,
  rootProfile,
} from "./profiles.js";
