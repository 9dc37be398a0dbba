// Fast tbsCertificate building for device certificates: everything fixed per (profile, issuer, key
// family) is encoded once; serial, validity, subject, SPKI and SAN are spliced in per certificate. Pure.
import type { SignatureAlgorithm } from "../../hsm/index.js";
import { ApplianceError } from "../errors.js";
import { algorithmIdentifier } from "./algorithms.js";
import type { Identifier } from "./api.js";
import { type Prepared, prepared } from "./certificate.js";
import { ctx, int, seq, time, uintFromBytes } from "./der.js";
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  certificatePolicies,
  crlDistributionPoints,
  extKeyUsage,
  keyUsage,
  subjectAltName,
} from "./extensions.js";
import { encodeName } from "./names.js";
import { assertProfile, type LeafProfile } from "./profiles.js";

/** The issuing CA as leaf certificates name it. */
export interface LeafIssuer {
  /** raw DER subject of the issuing CA certificate */
  name: Buffer;
  /** the issuing CA's SubjectKeyIdentifier (becomes the leaf's AKI) */
  keyIdentifier: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
}

export interface LeafParams {
  /** positive magnitude, 1..20 octets */
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** optional CN; the policy has already checked it equals one of the SANs */
  commonName?: string;
  /** the subject's SPKI DER, as found in the CSR */
  spki: Buffer;
  /** true when the subject key is RSA (adds keyEncipherment for device-tls) */
  rsa: boolean;
  sans: readonly Identifier[];
}

const EMPTY_NAME = seq();

export class LeafTemplate {
  readonly profile: LeafProfile;
  readonly issuer: LeafIssuer;
  private readonly head: Buffer; // [0] version
  private readonly mid: Buffer; // signature AlgorithmIdentifier + issuer Name
  private readonly extsEc: Buffer;
  private readonly extsRsa: Buffer;

  constructor(profile: LeafProfile, issuer: LeafIssuer) {
    this.profile = assertProfile(profile);
    this.issuer = issuer;
    this.head = ctx(0, true, int(2));
    this.mid = Buffer.concat([algorithmIdentifier(issuer.signatureAlgorithm), issuer.name]);
    const fixed = (ku: LeafProfile["keyUsage"]) => {
      const parts = [
        keyUsage(ku),
        extKeyUsage(profile.ekus),
        basicConstraints(false),
        authorityKeyIdentifier(issuer.keyIdentifier),
        authorityInfoAccess(profile.aia),
        crlDistributionPoints(profile.crlDistributionPoints),
      ];
      if (profile.policies?.length) parts.push(certificatePolicies(profile.policies));
      return Buffer.concat(parts);
    };
    this.extsEc = fixed(profile.keyUsage);
    this.extsRsa = fixed(profile.keyUsageRsa);
  }

  /** Builds the tbsCertificate for one device certificate. */
  prepare(p: LeafParams): Prepared {
    if (p.serial.length === 0 || p.serial.length > 20 || p.serial[0] === 0)
      throw new ApplianceError("internal", "serial must be 1..20 octets without a leading zero");
    if (!p.sans.length) throw new ApplianceError("policyViolation", "a device certificate needs a subjectAltName");
    const subject = p.commonName === undefined ? EMPTY_NAME : encodeName([{ type: "CN", value: p.commonName }]);
    const tbs = seq(
      this.head,
      uintFromBytes(p.serial),
      this.mid,
      seq(time(p.notBefore), time(p.notAfter)),
      subject,
      p.spki,
      ctx(3, true, seq(p.rsa ? this.extsRsa : this.extsEc, subjectAltName(p.sans, p.commonName === undefined))),
    );
    return prepared("certificate", tbs, this.issuer.signatureAlgorithm);
  }
}
