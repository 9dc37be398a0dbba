// Issuance policy checked inside the CA before every signature: identifier syntax and name
// constraints, CSR names vs. authorised identifiers, CN rule, validity window. Pure.
import { clip, clipList } from "../clip.js";
import { domainToASCII, domainToUnicode } from "node:url";
import { ApplianceError } from "../errors.js";
import type { Identifier, IdentifierVerdict } from "./api.js";
import type { ParsedCsr } from "./csr.js";
import { canonicalIp, ipToBytes } from "./ip.js";
import {
  type ConstraintVerdict,
  checkConstraints,
  type NameConstraintsSpec,
  type ParsedConstraints,
  parseConstraints,
} from "./name-constraints.js";

export interface IssuancePolicyConfig {
  /**
   * Names the CA may certify. Stricter than RFC 5280 in one way: an identifier type with no
   * permitted subtree is refused (deny by default), instead of being unconstrained.
   */
  names: NameConstraintsSpec;
  /** notBefore is set this many seconds in the past (device clocks drift); 0..3600 */
  backdateSeconds: number;
  /** most identifiers in one certificate */
  maxIdentifiers: number;
}

export const DEFAULT_BACKDATE_SECONDS = 300;

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Syntax of a DNS identifier; returns the reason it is unacceptable, or undefined. */
export function dnsSyntaxProblem(name: string): string | undefined {
  if (name.length === 0) return "empty DNS name";
  const shown = clip(name);
  if (name.startsWith("*.") || name.includes("*")) return `wildcard names are not issued by this CA (${shown})`;
  if (name !== name.toLowerCase()) return `DNS name ${shown} must be lower case`;
  if (name.endsWith(".")) return `DNS name ${shown} must not end with a dot`;
  if (name.length > 253) return `DNS name ${shown} is longer than 253 characters`;
  const labels = name.split(".");
  for (const l of labels) if (!LABEL.test(l)) return `DNS name ${shown} has an invalid label "${clip(l)}"`;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return `${shown} looks like an IP address; use an ip identifier`;
  if (labels.some((l) => l.startsWith("xn--"))) {
    const back = domainToASCII(domainToUnicode(name));
    if (back !== name) return `DNS name ${shown} has an invalid IDNA (xn--) label`;
  } else if (labels.some((l) => l.length >= 4 && l[2] === "-" && l[3] === "-")) {
    return `DNS name ${shown} has a reserved label (?? -- prefix)`;
  }
  return undefined;
}

export function ipSyntaxProblem(value: string): string | undefined {
  const canon = canonicalIp(value);
  if (!canon) return `${clip(value)} is not an IP address`;
  if (canon !== value) return `IP address ${value} is not in canonical form (${canon})`;
  const b = ipToBytes(value)!;
  if (b.every((x) => x === 0)) return `${value} is the unspecified address`;
  if (b.length === 4 && b[0]! >= 224) return `${value} is a multicast or reserved address`;
  if (b.length === 16 && b[0] === 0xff) return `${value} is a multicast address`;
  return undefined;
}

export class IssuancePolicy {
  private readonly names: ParsedConstraints;

  /**
   * @param extra constraints the CA must also respect, e.g. read from the installed SubCA certificate
   */
  constructor(
    readonly config: IssuancePolicyConfig,
    private readonly extra: ParsedConstraints[] = [],
  ) {
    this.names = parseConstraints(config.names);
    if (!(config.backdateSeconds >= 0 && config.backdateSeconds <= 3600))
      throw new ApplianceError("internal", "backdateSeconds must be between 0 and 3600");
  }

  checkIdentifier(id: Identifier): ConstraintVerdict {
    if (id.type !== "dns" && id.type !== "ip")
      return {
        ok: false,
        reason: `identifier type "${clip(String((id as { type: unknown }).type))}" is not supported`,
      };
    if (typeof id.value !== "string") return { ok: false, reason: "identifier value must be a string" };
    const syntax = id.type === "dns" ? dnsSyntaxProblem(id.value) : ipSyntaxProblem(id.value);
    if (syntax) return { ok: false, reason: syntax };
    const permitted = id.type === "dns" ? this.names.permittedDns : this.names.permittedIp;
    if (!permitted.length)
      return { ok: false, reason: `this CA's policy allows no ${id.type === "dns" ? "DNS names" : "IP addresses"}` };
    const own = checkConstraints(this.names, id);
    if (!own.ok) return own;
    for (const c of this.extra) {
      const v = checkConstraints(c, id);
      if (!v.ok) return { ok: false, reason: `${v.reason} (issuing CA certificate's name constraints)` };
    }
    return { ok: true };
  }

  checkIdentifiers(ids: Identifier[]): IdentifierVerdict[] {
    return ids.map((identifier) => {
      const v = this.checkIdentifier(identifier);
      return v.ok ? { identifier, ok: true } : { identifier, ok: false, reason: v.reason };
    });
  }

  /** Throws rejectedIdentifier / policyViolation for the first refused identifier. */
  assertIdentifiers(ids: Identifier[]): void {
    if (!ids.length) throw new ApplianceError("policyViolation", "at least one identifier is required");
    if (ids.length > this.config.maxIdentifiers)
      throw new ApplianceError(
        "policyViolation",
        `${ids.length} identifiers exceed this CA's maximum of ${this.config.maxIdentifiers} per certificate`,
      );
    for (const v of this.checkIdentifiers(ids))
      if (!v.ok)
        throw new ApplianceError(
          "rejectedIdentifier",
          `${v.identifier.type}:${clip(String(v.identifier.value))}: ${v.reason}`,
        );
  }

  /**
   * The CSR must name exactly the authorised identifiers (SANs; a CN must equal one of the SANs).
   * Returns the SANs for the certificate (authorised order, duplicates removed) and the CN to use.
   */
  matchCsr(csr: ParsedCsr, authorised: Identifier[]): { sans: Identifier[]; commonName?: string } {
    const key = (i: Identifier) => `${i.type}:${i.value}`;
    if (!csr.sans.length) throw new ApplianceError("badCSR", "CSR has no subjectAltName: a SAN is required");
    const csrSet = new Set(csr.sans.map(key));
    const authSet = new Set(authorised.map(key));
    const missing = [...authSet].filter((k) => !csrSet.has(k));
    const extra = [...csrSet].filter((k) => !authSet.has(k));
    if (extra.length)
      throw new ApplianceError("badCSR", `CSR names identifiers that were not authorised: ${clipList(extra)}`);
    if (missing.length) throw new ApplianceError("badCSR", `CSR lacks authorised identifiers: ${clipList(missing)}`);
    let commonName: string | undefined;
    if (csr.commonName !== undefined) {
      const cn = csr.commonName;
      const asIp = canonicalIp(cn);
      const match = asIp ? csrSet.has(`ip:${asIp}`) && cn === asIp : csrSet.has(`dns:${cn}`);
      if (!match) throw new ApplianceError("badCSR", `CSR common name "${clip(cn)}" is not one of its subjectAltNames`);
      if (cn.length > 64)
        throw new ApplianceError("badCSR", `CSR common name "${clip(cn)}" is longer than 64 characters`);
      // An IP address is never put in the subject CN: verifiers (OpenSSL, Go) treat a CN that looks
      // like a host name as a DNS name and check it against the SubCA's DNS name constraints, so an
      // IP CN fails verification. The iPAddress SAN carries it (Let's Encrypt does the same).
      if (!asIp) commonName = cn;
    }
    const seen = new Set<string>();
    const sans = authorised.filter((i) => {
      const k = key(i);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    return { sans, ...(commonName !== undefined ? { commonName } : {}) };
  }

  /**
   * The validity window: default notBefore = now - backdate, notAfter = notBefore + profile validity
   * - 1 s (inclusive end). Requested windows are checked against the profile maximum; nothing may
   * outlive the issuer.
   */
  validity(
    now: Date,
    profile: { name: string; validitySeconds: number; maxValiditySeconds: number },
    issuerNotAfter: Date,
    requested: { notBefore?: Date; notAfter?: Date } = {},
  ): { notBefore: Date; notAfter: Date } {
    const backdated = new Date(Math.floor((now.getTime() - this.config.backdateSeconds * 1000) / 1000) * 1000);
    let notBefore = backdated;
    if (requested.notBefore) {
      const nb = requested.notBefore.getTime();
      if (nb < backdated.getTime())
        throw new ApplianceError(
          "policyViolation",
          `requested notBefore is more than ${this.config.backdateSeconds} s in the past`,
        );
      if (nb > now.getTime() + 86400_000)
        throw new ApplianceError("policyViolation", "requested notBefore is more than a day in the future");
      notBefore = new Date(Math.floor(nb / 1000) * 1000);
    }
    const notAfter = requested.notAfter
      ? new Date(Math.floor(requested.notAfter.getTime() / 1000) * 1000)
      : new Date(notBefore.getTime() + (profile.validitySeconds - 1) * 1000);
    const seconds = (notAfter.getTime() - notBefore.getTime()) / 1000;
    if (seconds <= 0) throw new ApplianceError("policyViolation", "notAfter must be after notBefore");
    if (seconds > profile.maxValiditySeconds)
      throw new ApplianceError(
        "policyViolation",
        `validity of ${(seconds / 86400).toFixed(1)} days exceeds profile "${profile.name}" maximum of ${(profile.maxValiditySeconds / 86400).toFixed(1)} days`,
      );
    if (notAfter.getTime() > issuerNotAfter.getTime())
      throw new ApplianceError(
        "policyViolation",
        `the certificate would end ${notAfter.toISOString()}, after the issuing CA certificate (${issuerNotAfter.toISOString()}); the SubCA must be renewed`,
      );
    return { notBefore, notAfter };
  }
}
