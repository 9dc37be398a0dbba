// Certificate profiles as data: root, issuing SubCA, cross and device leaf profiles, the helpers that
// fill in the appliance's PKI URLs, and the rules every profile must satisfy. Pure.
import { ApplianceError } from "../errors.js";
import type { EkuName, KeyUsageName } from "./extensions.js";
import { type NameConstraintsSpec, parseConstraints } from "./name-constraints.js";

export const DAY = 86_400;

/** Where the appliance serves CA certificates, CRLs and OCSP (plain HTTP, see http.ts). */
export interface PkiUrls {
  /** AIA caIssuers: the issuing CA certificate (DER) */
  caIssuers: string;
  /** CRL distribution point (DER CRL) */
  crl: string;
  /** OCSP responder */
  ocsp: string;
}

/** A CA certificate profile. `root` is self-signed; `intermediate` covers issuing SubCAs and cross certificates. */
export interface CaProfile {
  kind: "root" | "intermediate";
  name: string;
  description: string;
  /** hard maximum validity; a request beyond it is refused */
  maxValiditySeconds: number;
  keyUsage: KeyUsageName[];
  /** basicConstraints pathLenConstraint; undefined = none */
  pathLen?: number;
  /** roots carry none; an issuing SubCA lists what its leaves may be used for */
  ekus?: EkuName[];
  nameConstraints?: NameConstraintsSpec;
  /** AIA (ocsp / caIssuers) of the *issuer* of this certificate */
  aia?: { ocsp?: string[]; caIssuers?: string[] };
  crlDistributionPoints?: string[];
  /** certificatePolicies OIDs */
  policies?: string[];
}

/** A device (end-entity) profile: what ACME offers in meta.profiles. */
export interface LeafProfile {
  kind: "leaf";
  name: string;
  description: string;
  /** default validity */
  validitySeconds: number;
  /** hard maximum; requests asking for longer are refused */
  maxValiditySeconds: number;
  ekus: EkuName[];
  /** key usage for EC / Ed25519 keys */
  keyUsage: KeyUsageName[];
  /** key usage for RSA keys (adds keyEncipherment for TLS key transport) */
  keyUsageRsa: KeyUsageName[];
  aia: { ocsp: string[]; caIssuers: string[] };
  crlDistributionPoints: string[];
  policies?: string[];
}

export type Profile = CaProfile | LeafProfile;

export function rootProfile(opts: { name?: string; validityYears?: number; pathLen?: number } = {}): CaProfile {
  return {
    kind: "root",
    name: opts.name ?? "root",
    description: "self-signed root CA: no EKU, keyCertSign + cRLSign",
    maxValiditySeconds: Math.round((opts.validityYears ?? 25) * 365.25 * DAY),
    keyUsage: ["keyCertSign", "cRLSign"],
    ...(opts.pathLen !== undefined ? { pathLen: opts.pathLen } : {}),
  };
}

/**
 * The issuing SubCA that signs device certificates: pathLen 0, EKU serverAuth+clientAuth, name
 * constraints, AIA/CDP pointing at the root's URLs. With no permitted IP range, every IP is excluded
 * (0.0.0.0/0 and ::/0) so the SubCA cannot vouch for addresses the plant did not allow.
 */
export function issuingSubCaProfile(opts: {
  name?: string;
  validityYears?: number;
  nameConstraints: NameConstraintsSpec;
  /** URLs where the root's certificate / CRL are served */
  issuerUrls: { caIssuers?: string; crl: string; ocsp?: string };
  ekus?: EkuName[];
  policies?: string[];
}): CaProfile {
  const nc = { ...opts.nameConstraints, excludedIp: [...opts.nameConstraints.excludedIp] };
  if (nc.permittedIp.length === 0) {
    for (const all of ["0.0.0.0/0", "::/0"]) if (!nc.excludedIp.includes(all)) nc.excludedIp.push(all);
  }
  const aia: { ocsp?: string[]; caIssuers?: string[] } = {};
  if (opts.issuerUrls.caIssuers) aia.caIssuers = [opts.issuerUrls.caIssuers];
  if (opts.issuerUrls.ocsp) aia.ocsp = [opts.issuerUrls.ocsp];
  return {
    kind: "intermediate",
    name: opts.name ?? "issuing-subca",
    description: "issuing SubCA: pathLen 0, serverAuth+clientAuth, name-constrained",
    maxValiditySeconds: Math.round((opts.validityYears ?? 8) * 365.25 * DAY),
    keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    pathLen: 0,
    ekus: opts.ekus ?? ["serverAuth", "clientAuth"],
    nameConstraints: nc,
    ...(Object.keys(aia).length ? { aia } : {}),
    crlDistributionPoints: [opts.issuerUrls.crl],
    ...(opts.policies ? { policies: opts.policies } : {}),
  };
}

/**
 * A cross certificate: an existing CA's subject and key certified by another root. The ceremony
 * passes the existing certificate's raw subject and SKI to prepareCertificate; the profile fixes the rest.
 */
export function crossProfile(opts: {
  name?: string;
  validityYears?: number;
  pathLen?: number;
  nameConstraints?: NameConstraintsSpec;
  issuerUrls: { caIssuers?: string; crl: string; ocsp?: string };
  ekus?: EkuName[];
}): CaProfile {
  const aia: { ocsp?: string[]; caIssuers?: string[] } = {};
  if (opts.issuerUrls.caIssuers) aia.caIssuers = [opts.issuerUrls.caIssuers];
  if (opts.issuerUrls.ocsp) aia.ocsp = [opts.issuerUrls.ocsp];
  return {
    kind: "intermediate",
    name: opts.name ?? "cross",
    description: "cross certificate for an existing CA",
    maxValiditySeconds: Math.round((opts.validityYears ?? 5) * 365.25 * DAY),
    keyUsage: ["keyCertSign", "cRLSign"],
    ...(opts.pathLen !== undefined ? { pathLen: opts.pathLen } : {}),
    ...(opts.ekus ? { ekus: opts.ekus } : {}),
    ...(opts.nameConstraints ? { nameConstraints: opts.nameConstraints } : {}),
    ...(Object.keys(aia).length ? { aia } : {}),
    crlDistributionPoints: [opts.issuerUrls.crl],
  };
}

/** Validity in days of one device profile. */
export interface DeviceValidity {
  validityDays?: number;
  maxValidityDays?: number;
}

/**
 * The default device profiles, pointing at the appliance's URLs for the issuing CA. `opts` sets the
 * validity of all of them; `opts.perProfile` overrides it for one profile (by name).
 */
export function deviceProfiles(
  urls: PkiUrls,
  opts: DeviceValidity & { perProfile?: Partial<Record<string, DeviceValidity>> } = {},
): LeafProfile[] {
  const validity = (name: string) => {
    const o = opts.perProfile?.[name];
    return {
      validitySeconds: Math.round((o?.validityDays ?? opts.validityDays ?? 30) * DAY),
      maxValiditySeconds: Math.round((o?.maxValidityDays ?? opts.maxValidityDays ?? 397) * DAY),
    };
  };
  const common = {
    kind: "leaf" as const,
    aia: { ocsp: [urls.ocsp], caIssuers: [urls.caIssuers] },
    crlDistributionPoints: [urls.crl],
  };
  return [
    {
      ...common,
      ...validity("device-tls"),
      name: "device-tls",
      description: "device TLS server and client: serverAuth + clientAuth",
      ekus: ["serverAuth", "clientAuth"],
      keyUsage: ["digitalSignature"],
      keyUsageRsa: ["digitalSignature", "keyEncipherment"],
    },
    {
      ...common,
      ...validity("device-client"),
      name: "device-client",
      description: "device TLS client only: clientAuth",
      ekus: ["clientAuth"],
      keyUsage: ["digitalSignature"],
      keyUsageRsa: ["digitalSignature"],
    },
  ];
}

/** Profile rules (BR 7.1.2 / RFC 5280 shape); returns the problems, empty when the profile is sound. */
export function profileProblems(p: Profile): string[] {
  const out: string[] = [];
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(p.name))
    out.push(`profile name "${p.name}" must be lower-case letters, digits, "-"`);
  if (!(p.maxValiditySeconds > 0)) out.push("maxValiditySeconds must be positive");
  if (p.kind === "leaf") {
    if (!(p.validitySeconds > 0 && p.validitySeconds <= p.maxValiditySeconds))
      out.push("validitySeconds must be positive and within maxValiditySeconds");
    for (const ku of [...p.keyUsage, ...p.keyUsageRsa])
      if (ku === "keyCertSign" || ku === "cRLSign") out.push(`device profile must not have ${ku}`);
    if (!p.ekus.length) out.push("device profile needs at least one EKU");
    if (!p.keyUsage.length || !p.keyUsageRsa.length) out.push("device profile needs key usages");
    if (!p.crlDistributionPoints.length) out.push("device profile needs a CRL distribution point");
    if (!p.aia.ocsp.length && !p.aia.caIssuers.length) out.push("device profile needs AIA URLs");
    return out;
  }
  if (!p.keyUsage.includes("keyCertSign")) out.push("CA profile needs keyCertSign");
  if (!p.keyUsage.includes("cRLSign")) out.push("CA profile needs cRLSign");
  if (p.pathLen !== undefined && !(Number.isInteger(p.pathLen) && p.pathLen >= 0)) out.push("pathLen must be >= 0");
  if (p.kind === "root") {
    if (p.ekus?.length) out.push("a root must not carry an EKU");
    if (p.nameConstraints) out.push("a root must not carry name constraints");
  } else {
    if (!p.crlDistributionPoints?.length) out.push("a subordinate CA needs a CRL distribution point");
    if (p.nameConstraints) {
      try {
        parseConstraints(p.nameConstraints);
      } catch (e) {
        out.push((e as Error).message);
      }
    }
  }
  return out;
}

export function assertProfile<P extends Profile>(p: P): P {
  const problems = profileProblems(p);
  if (problems.length)
    throw new ApplianceError("policyViolation", `profile "${p.name}" is invalid: ${problems.join("; ")}`);
  return p;
}
