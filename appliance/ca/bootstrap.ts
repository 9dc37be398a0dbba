// DEMO/TEST fixture (ceremonies replace it): root + name-constrained SubCA + audit key on one SoftHSM
// token via the profile code, written as files with a ready CA config; a second run reuses them.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HsmError, type HsmKey, HsmToken, type KeySpec, useSoftHsm } from "../../hsm/index.js";
import { derToPem, parseCertificate, pemToDer } from "./cert-parse.js";
import { issuerFromCertificate, newSerial, prepareCertificate, signPrepared } from "./certificate.js";
import { type CaConfigInput, rootUrls } from "./config.js";
import { prepareCrl } from "./crl.js";
import { keyIdentifier } from "./extensions.js";
import type { NameConstraintsSpec } from "./name-constraints.js";
import { issuingSubCaProfile, rootProfile } from "./profiles.js";

export interface BootstrapOptions {
  /** directory for root.pem, issuing.pem, root.crl, audit-key.pem */
  dir: string;
  /** the token that will hold all three keys (demo: root and SubCA on one token) */
  token: HsmToken;
  /** http://host:port devices use for CRL/OCSP/CA certificates */
  pkiBaseUrl: string;
  /** names the SubCA may certify; also the CA's issuance policy */
  names: NameConstraintsSpec;
  rootSpec?: KeySpec;
  issuingSpec?: KeySpec;
  organization?: string;
  labels?: { root?: string; issuing?: string; audit?: string };
  /** SubCA lifetime in years (default 2) */
  issuingYears?: number;
  now?: Date;
}

export interface BootstrapResult {
  rootDer: Buffer;
  issuingDer: Buffer;
  rootCrlDer: Buffer;
  paths: { root: string; issuing: string; rootCrl: string; auditKey: string };
  /** pass to createCa({ config }) (add or override fields as needed) */
  config: CaConfigInput;
  keys: { root: HsmKey; issuing: HsmKey; audit: HsmKey };
  /** false when an earlier run's files and keys were reused */
  created: boolean;
}

/**
 * Opens the demo SoftHSM token kept under `dir` (SOFTHSM2_CONF pointed there for this process),
 * creating it on first use. DEMO ONLY: the PIN is a literal.
 */
export function openDemoToken(dir: string, label = "plantroot-demo", pin = "1234"): HsmToken {
  const sh = useSoftHsm(dir);
  try {
    return HsmToken.open({ label, pin: { value: pin } });
  } catch (e) {
    if (!(e instanceof HsmError) || e.kind !== "token-not-found") throw e;
    sh.createToken(label, pin);
    return HsmToken.open({ label, pin: { value: pin } });
  }
}

/** Creates (or, if present, reuses) the demo PKI in `dir` on `token`. */
export async function bootstrapDemoPki(o: BootstrapOptions): Promise<BootstrapResult> {
  mkdirSync(o.dir, { recursive: true });
  const labels = {
    root: o.labels?.root ?? "demo-root",
    issuing: o.labels?.issuing ?? "demo-issuing",
    audit: o.labels?.audit ?? "audit-checkpoints",
  };
  const paths = {
    root: join(o.dir, "root.pem"),
    issuing: join(o.dir, "issuing.pem"),
    rootCrl: join(o.dir, "root.crl"),
    auditKey: join(o.dir, "audit-key.pem"),
  };
  const config: CaConfigInput = {
    pkiBaseUrl: o.pkiBaseUrl,
    hsm: { issuingKeyLabel: labels.issuing, auditKeyLabel: labels.audit },
    certificates: { issuing: paths.issuing, root: paths.root, rootCrl: paths.rootCrl },
    policy: {
      permittedDns: o.names.permittedDns,
      excludedDns: o.names.excludedDns,
      permittedIp: o.names.permittedIp,
      excludedIp: o.names.excludedIp,
    },
  };
  if (existsSync(paths.issuing) && existsSync(paths.root) && o.token.labelExists(labels.issuing)) {
    return {
      rootDer: pemToDer(readFileSync(paths.root, "utf8")),
      issuingDer: pemToDer(readFileSync(paths.issuing, "utf8")),
      rootCrlDer: readFileSync(paths.rootCrl),
      paths,
      config,
      keys: {
        root: o.token.findKey(labels.root),
        issuing: o.token.findKey(labels.issuing),
        audit: o.token.findKey(labels.audit),
      },
      created: false,
    };
  }
  const now = o.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 3600_000);
  const years = (n: number) => new Date(notBefore.getTime() + n * 365 * 86400_000);
  const org = o.organization ?? "Plantroot Demo";
  const root = o.token.generateKeyPair({ label: labels.root, spec: o.rootSpec ?? "P-384" });
  const issuing = o.token.generateKeyPair({ label: labels.issuing, spec: o.issuingSpec ?? "P-256" });
  const audit = o.token.generateKeyPair({ label: labels.audit, spec: "P-256" });

  const rootDer = await signPrepared(
    prepareCertificate(rootProfile({ name: "demo-root", validityYears: 10 }), {
      serial: newSerial(),
      subject: [
        { type: "O", value: org },
        { type: "CN", value: `${org} Root CA (demo)` },
      ],
      subjectPublicKey: root.spki,
      notBefore,
      notAfter: years(10),
      signatureAlgorithm: root.defaultAlgorithm,
    }),
    root,
    root.publicKey,
  );
  const issuingDer = await signPrepared(
    prepareCertificate(
      issuingSubCaProfile({
        name: "demo-issuing",
        nameConstraints: o.names,
        issuerUrls: { ...rootUrls(o.pkiBaseUrl) },
      }),
      {
        serial: newSerial(),
        subject: [
          { type: "O", value: org },
          { type: "CN", value: `${org} Issuing CA (demo)` },
        ],
        subjectPublicKey: issuing.spki,
        issuer: issuerFromCertificate(rootDer),
        notBefore,
        notAfter: years(o.issuingYears ?? 2),
        signatureAlgorithm: root.defaultAlgorithm,
      },
    ),
    root,
    root.publicKey,
  );
  const rootCert = parseCertificate(rootDer);
  const rootCrlDer = await signPrepared(
    prepareCrl({
      issuer: { name: rootCert.subject, keyIdentifier: keyIdentifier(rootCert.spki) },
      thisUpdate: notBefore,
      nextUpdate: years(1),
      crlNumber: 1n,
      entries: [],
      signatureAlgorithm: root.defaultAlgorithm,
    }),
    root,
    root.publicKey,
  );
  writeFileSync(paths.root, derToPem(rootDer));
  writeFileSync(paths.issuing, derToPem(issuingDer));
  writeFileSync(paths.rootCrl, rootCrlDer);
  writeFileSync(paths.auditKey, audit.publicKey.export({ type: "spki", format: "pem" }));
  return { rootDer, issuingDer, rootCrlDer, paths, config, keys: { root, issuing, audit }, created: true };
}
