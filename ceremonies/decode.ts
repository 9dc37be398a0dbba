// The human view of to-be-signed bytes: decodes a DER tbsCertificate, tbsCertList or
// CertificationRequestInfo with @peculiar/asn1-* (independently of whoever built it) into facts and lines. Pure.
import { createHash, createPublicKey } from "node:crypto";
import { CertificationRequestInfo } from "@peculiar/asn1-csr";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn from "@peculiar/asn1-x509";
import { CeremonyError } from "./errors.js";

export type TbsKind = "certificate" | "crl" | "csr";

export interface DecodedLine {
  label: string;
  value: string;
  critical?: boolean;
}

/** Structured facts the checks and the verifier use; absent fields are not in the TBS. */
export interface TbsFacts {
  kind: TbsKind;
  version: number;
  serial?: string;
  signatureAlgorithm?: string;
  issuer?: string;
  subject?: string;
  notBefore?: string;
  notAfter?: string;
  spki?: { algorithm: string; detail: string; sha256: string };
  isCa?: boolean;
  pathLen?: number;
  basicConstraintsCritical?: boolean;
  keyUsage?: string[];
  extendedKeyUsage?: string[];
  permittedDns?: string[];
  permittedIp?: string[];
  excludedDns?: string[];
  excludedIp?: string[];
  nameConstraintsCritical?: boolean;
  subjectKeyId?: string;
  authorityKeyId?: string;
  crlUrls?: string[];
  caIssuers?: string[];
  ocsp?: string[];
  thisUpdate?: string;
  nextUpdate?: string;
  crlNumber?: string;
  revoked?: Array<{ serial: string; date: string; reason?: string }>;
  onlyContainsCaCerts?: boolean;
  extensions: Array<{ oid: string; critical: boolean }>;
}

export interface DecodedTbs {
  kind: TbsKind;
  sha256: string;
  facts: TbsFacts;
  lines: DecodedLine[];
}

const SIG_ALGS: Record<string, string> = {
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.113549.1.1.10": "RSASSA-PSS",
  "1.3.101.112": "Ed25519",
};
const EKU: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};
const KU = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];
const REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "7",
  "removeFromCRL",
  "privilegeWithdrawn",
  "aACompromise",
];

const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b as ArrayBuffer).toString("hex");

const NAME_ATTRS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.5": "serialNumber",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
};

/** RFC 4514-style text in encoding order (C first, as the certificate carries it). */
function nameString(n: asn.Name): string {
  return n
    .map((rdn) =>
      rdn
        .map((atv) => {
          const v = atv.value.toString().replace(/([,+"\\<>;=])/g, "\\$1");
          return `${NAME_ATTRS[atv.type] ?? atv.type}=${v}`;
        })
        .join("+"),
    )
    .join(", ");
}

function timeString(t: asn.Time): string {
  return t.getTime().toISOString();
}

function spkiFacts(spki: asn.SubjectPublicKeyInfo): NonNullable<TbsFacts["spki"]> {
  const der = Buffer.from(AsnConvert.serialize(spki));
  const key = createPublicKey({ key: der, format: "der", type: "spki" });
  const d = key.asymmetricKeyDetails ?? {};
  const detail =
    key.asymmetricKeyType === "ec"
      ? (({ prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" } as Record<string, string>)[
          d.namedCurve ?? ""
        ] ?? String(d.namedCurve))
      : key.asymmetricKeyType === "rsa"
        ? `${d.modulusLength} bits, e=${d.publicExponent}`
        : "";
  return {
    algorithm: key.asymmetricKeyType ?? "unknown",
    detail,
    sha256: createHash("sha256").update(der).digest("hex"),
  };
}

function generalNames(names: asn.GeneralName[]): string[] {
  return names.map((g) => {
    if (g.dNSName !== undefined) return `DNS:${g.dNSName}`;
    if (g.uniformResourceIdentifier !== undefined) return `URI:${g.uniformResourceIdentifier}`;
    if (g.iPAddress !== undefined) return `IP:${g.iPAddress}`;
    if (g.directoryName !== undefined) return `DirName:${nameString(g.directoryName)}`;
    if (g.rfc822Name !== undefined) return `email:${g.rfc822Name}`;
    return "other";
  });
}

function subtrees(t: asn.GeneralSubtrees | undefined, facts: { dns: string[]; ip: string[] }): string[] {
  const out: string[] = [];
  for (const s of t ?? []) {
    const g = s.base;
    if (g.dNSName !== undefined) {
      facts.dns.push(g.dNSName);
      out.push(`DNS:${g.dNSName}`);
    } else if (g.iPAddress !== undefined) {
      // asn1-x509 renders an address||mask OCTET STRING as CIDR text
      facts.ip.push(g.iPAddress);
      out.push(`IP:${g.iPAddress}`);
    } else out.push(generalNames([g])[0]!);
  }
  return out;
}

function extensions(exts: asn.Extensions | undefined, facts: TbsFacts, lines: DecodedLine[]): void {
  for (const e of exts ?? []) {
    const v = e.extnValue.buffer;
    const crit = e.critical;
    facts.extensions.push({ oid: e.extnID, critical: crit });
    switch (e.extnID) {
      case asn.id_ce_basicConstraints: {
        const bc = AsnConvert.parse(v, asn.BasicConstraints);
        facts.isCa = bc.cA;
        facts.basicConstraintsCritical = crit;
        if (bc.pathLenConstraint !== undefined) facts.pathLen = bc.pathLenConstraint;
        lines.push({
          label: "Basic constraints",
          value: `CA: ${bc.cA}${bc.pathLenConstraint !== undefined ? `, path length ≤ ${bc.pathLenConstraint}` : ""}`,
          critical: crit,
        });
        break;
      }
      case asn.id_ce_keyUsage: {
        const ku = AsnConvert.parse(v, asn.KeyUsage);
        facts.keyUsage = KU.filter((_, i) => (ku.toNumber() & (1 << i)) !== 0);
        lines.push({ label: "Key usage", value: facts.keyUsage.join(", "), critical: crit });
        break;
      }
      case asn.id_ce_extKeyUsage: {
        const eku = AsnConvert.parse(v, asn.ExtendedKeyUsage);
        facts.extendedKeyUsage = eku.map((o) => EKU[o] ?? o);
        lines.push({ label: "Extended key usage", value: facts.extendedKeyUsage.join(", "), critical: crit });
        break;
      }
      case asn.id_ce_nameConstraints: {
        const nc = AsnConvert.parse(v, asn.NameConstraints);
        const p = { dns: [] as string[], ip: [] as string[] };
        const x = { dns: [] as string[], ip: [] as string[] };
        const pl = subtrees(nc.permittedSubtrees, p);
        const xl = subtrees(nc.excludedSubtrees, x);
        facts.permittedDns = p.dns;
        facts.permittedIp = p.ip;
        facts.excludedDns = x.dns;
        facts.excludedIp = x.ip;
        facts.nameConstraintsCritical = crit;
        lines.push({
          label: "Name constraints",
          value: `permitted: ${pl.join(", ") || "—"}; excluded: ${xl.join(", ") || "—"}`,
          critical: crit,
        });
        break;
      }
      case asn.id_ce_subjectKeyIdentifier: {
        facts.subjectKeyId = hex(AsnConvert.parse(v, asn.SubjectKeyIdentifier).buffer);
        lines.push({ label: "Subject key identifier", value: facts.subjectKeyId, critical: crit });
        break;
      }
      case asn.id_ce_authorityKeyIdentifier: {
        const aki = AsnConvert.parse(v, asn.AuthorityKeyIdentifier);
        if (aki.keyIdentifier) facts.authorityKeyId = hex(aki.keyIdentifier.buffer);
        lines.push({
          label: "Authority key identifier",
          value: facts.authorityKeyId ?? "(issuer/serial form)",
          critical: crit,
        });
        break;
      }
      case asn.id_ce_cRLDistributionPoints: {
        const cdp = AsnConvert.parse(v, asn.CRLDistributionPoints);
        facts.crlUrls = cdp.flatMap((dp) =>
          (dp.distributionPoint?.fullName ?? []).flatMap((g) =>
            g.uniformResourceIdentifier ? [g.uniformResourceIdentifier] : [],
          ),
        );
        lines.push({ label: "CRL distribution points", value: facts.crlUrls.join(", "), critical: crit });
        break;
      }
      case asn.id_pe_authorityInfoAccess: {
        const aia = AsnConvert.parse(v, asn.AuthorityInfoAccessSyntax);
        facts.caIssuers = [];
        facts.ocsp = [];
        for (const ad of aia) {
          const url = ad.accessLocation.uniformResourceIdentifier;
          if (!url) continue;
          if (ad.accessMethod === asn.id_ad_caIssuers) facts.caIssuers.push(url);
          else if (ad.accessMethod === asn.id_ad_ocsp) facts.ocsp.push(url);
        }
        lines.push({
          label: "Authority information access",
          value: [...facts.caIssuers.map((u) => `CA issuers ${u}`), ...facts.ocsp.map((u) => `OCSP ${u}`)].join(", "),
          critical: crit,
        });
        break;
      }
      case asn.id_ce_cRLNumber: {
        const n = AsnConvert.parse(v, asn.CRLNumber);
        const raw = n.value as unknown;
        facts.crlNumber =
          typeof raw === "number" || typeof raw === "bigint"
            ? String(raw)
            : BigInt(`0x${hex(raw as ArrayBuffer) || "0"}`).toString();
        lines.push({ label: "CRL number", value: facts.crlNumber, critical: crit });
        break;
      }
      case asn.id_ce_issuingDistributionPoint: {
        const idp = AsnConvert.parse(v, asn.IssuingDistributionPoint);
        facts.onlyContainsCaCerts = idp.onlyContainsCACerts;
        lines.push({
          label: "Issuing distribution point",
          value: `${generalNames(idp.distributionPoint?.fullName ?? []).join(", ")}${idp.onlyContainsCACerts ? " (CA certificates only)" : ""}`,
          critical: crit,
        });
        break;
      }
      case asn.id_ce_subjectAltName: {
        const san = AsnConvert.parse(v, asn.SubjectAlternativeName);
        lines.push({ label: "Subject alternative name", value: generalNames(san).join(", "), critical: crit });
        break;
      }
      case asn.id_ce_certificatePolicies: {
        const cp = AsnConvert.parse(v, asn.CertificatePolicies);
        lines.push({
          label: "Certificate policies",
          value: cp.map((p) => p.policyIdentifier).join(", "),
          critical: crit,
        });
        break;
      }
      default:
        lines.push({ label: `Extension ${e.extnID}`, value: `${e.extnValue.byteLength} bytes`, critical: crit });
    }
  }
}

function serialHex(b: ArrayBuffer): string {
  return hex(b).replace(/^(00)+(?=[0-9a-f])/, "") || "0";
}

/** Decodes DER to-be-signed bytes of the given kind; throws CeremonyError("check-failed") if they do not parse. */
export function decodeTbs(kind: TbsKind, der: Uint8Array): DecodedTbs {
  const sha256 = createHash("sha256").update(der).digest("hex");
  const facts: TbsFacts = { kind, version: 1, extensions: [] };
  const lines: DecodedLine[] = [];
  try {
    if (kind === "certificate") {
      const tbs = AsnConvert.parse(der, asn.TBSCertificate);
      if (!Buffer.from(AsnConvert.serialize(tbs)).equals(Buffer.from(der)))
        throw new Error("does not re-encode to the same bytes (not DER)");
      facts.version = tbs.version + 1;
      facts.serial = serialHex(tbs.serialNumber);
      facts.signatureAlgorithm = SIG_ALGS[tbs.signature.algorithm] ?? tbs.signature.algorithm;
      facts.issuer = nameString(tbs.issuer);
      facts.subject = nameString(tbs.subject);
      facts.notBefore = timeString(tbs.validity.notBefore);
      facts.notAfter = timeString(tbs.validity.notAfter);
      facts.spki = spkiFacts(tbs.subjectPublicKeyInfo);
      lines.push(
        { label: "Version", value: `v${facts.version}` },
        { label: "Serial number", value: facts.serial },
        { label: "Signature algorithm", value: facts.signatureAlgorithm },
        { label: "Issuer", value: facts.issuer },
        { label: "Not before", value: facts.notBefore },
        { label: "Not after", value: facts.notAfter },
        { label: "Subject", value: facts.subject },
        {
          label: "Public key",
          value: `${facts.spki.algorithm} ${facts.spki.detail}, SHA-256 ${facts.spki.sha256}`,
        },
      );
      extensions(tbs.extensions, facts, lines);
    } else if (kind === "crl") {
      const tbs = AsnConvert.parse(der, asn.TBSCertList);
      if (!Buffer.from(AsnConvert.serialize(tbs)).equals(Buffer.from(der)))
        throw new Error("does not re-encode to the same bytes (not DER)");
      facts.version = (tbs.version ?? 0) + 1;
      facts.signatureAlgorithm = SIG_ALGS[tbs.signature.algorithm] ?? tbs.signature.algorithm;
      facts.issuer = nameString(tbs.issuer);
      facts.thisUpdate = timeString(tbs.thisUpdate);
      if (tbs.nextUpdate) facts.nextUpdate = timeString(tbs.nextUpdate);
      facts.revoked = (tbs.revokedCertificates ?? []).map((r) => {
        const out: { serial: string; date: string; reason?: string } = {
          serial: serialHex(r.userCertificate),
          date: timeString(r.revocationDate),
        };
        for (const e of r.crlEntryExtensions ?? [])
          if (e.extnID === asn.id_ce_cRLReasons)
            out.reason = REASONS[AsnConvert.parse(e.extnValue.buffer, asn.CRLReason).reason] ?? "unknown";
        return out;
      });
      lines.push(
        { label: "Version", value: `v${facts.version}` },
        { label: "Signature algorithm", value: facts.signatureAlgorithm },
        { label: "Issuer", value: facts.issuer },
        { label: "This update", value: facts.thisUpdate },
        { label: "Next update", value: facts.nextUpdate ?? "—" },
        {
          label: "Revoked certificates",
          value: facts.revoked.length
            ? facts.revoked.map((r) => `${r.serial} at ${r.date}${r.reason ? ` (${r.reason})` : ""}`).join("; ")
            : "none",
        },
      );
      extensions(tbs.crlExtensions, facts, lines);
    } else {
      const info = AsnConvert.parse(der, CertificationRequestInfo);
      if (!Buffer.from(AsnConvert.serialize(info)).equals(Buffer.from(der)))
        throw new Error("does not re-encode to the same bytes (not DER)");
      facts.version = info.version + 1;
      facts.subject = nameString(info.subject);
      facts.spki = spkiFacts(info.subjectPKInfo);
      lines.push(
        { label: "Subject", value: facts.subject },
        { label: "Public key", value: `${facts.spki.algorithm} ${facts.spki.detail}, SHA-256 ${facts.spki.sha256}` },
      );
    }
  } catch (e) {
    throw new CeremonyError("check-failed", `the ${kind} to be signed does not decode: ${(e as Error).message}`);
  }
  return { kind, sha256, facts, lines };
}

/** The decoded view as text, one field a line (for the report and the terminal). */
export function formatDecoded(d: DecodedTbs): string {
  return d.lines.map((l) => `${l.label}${l.critical ? " [critical]" : ""}: ${l.value}`).join("\n");
}
