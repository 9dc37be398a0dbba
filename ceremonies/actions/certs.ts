// Certificate actions on top of appliance/ca's profiles and TBS builder: self-signed root, issuing
// SubCA from a carried-in request (with rotation overlap), cross certificate, and the appliance-side
// import check. Prepare and execute build the TBS through the same function from the recorded inputs.
import { createPublicKey } from "node:crypto";
import { defaultSignatureAlgorithm, type HsmKey, type HsmToken, type SignatureAlgorithm } from "../../hsm/index.js";
import {
  type CaProfile,
  crossProfile,
  derToPem,
  finishSigned,
  issuerFromCertificate,
  issuingSubCaProfile,
  type ParsedCertificate,
  type Prepared as CaPrepared,
  parseCertificate,
  prepareCertificate,
  profileProblems,
  rootProfile,
  subjectKeyIdOf,
} from "../../appliance/ca/index.js";
import { type DecodedTbs, decodeTbs } from "../decode.js";
import type { Action, ActionEnv, CheckResult, ResolvedRef } from "../engine/types.js";
import { CeremonyError } from "../errors.js";
import type { JsonValue } from "../jcs.js";
import { keyIdOf } from "../keys.js";
import { dnOf, parseCsr, splitSigned, verifySigned } from "../pkix.js";
import type { ScriptStep } from "../script.js";
import { keyQuality } from "./key-quality.js";
import { check, derOf, requireChecks, spkiSha256 } from "./util.js";

type RootStep = Extract<ScriptStep, { action: "cert.root" }>;
type SubCaStep = Extract<ScriptStep, { action: "cert.subca" }>;
type CrossStep = Extract<ScriptStep, { action: "cert.cross" }>;
type ImportStep = Extract<ScriptStep, { action: "cert.import" }>;

/** A positive 16-byte serial from the token's RNG (Boulder takes serials from the HSM too). */
export function hsmSerial(token: HsmToken): Buffer {
  const b = token.random(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

export interface LoadedCert {
  ref: ResolvedRef;
  der: Buffer;
  parsed: ParsedCertificate;
  facts: DecodedTbs["facts"];
}

export function loadCert(env: ActionEnv, ref: Parameters<ActionEnv["resolve"]>[0], what: string): LoadedCert {
  const r = env.resolve(ref);
  let der: Buffer;
  let parsed: ParsedCertificate;
  try {
    der = derOf(r.bytes, "CERTIFICATE");
    parsed = parseCertificate(der);
  } catch (e) {
    throw new CeremonyError("check-failed", `${what} (${r.path}) is not a certificate: ${(e as Error).message}`);
  }
  return { ref: r, der, parsed, facts: decodeTbs("certificate", parsed.tbs).facts };
}

/** The issuer's key in the token must be the key of the issuer certificate (Boulder's openSigner check). */
function signerChecks(key: HsmKey, issuer: LoadedCert, usage: "keyCertSign" | "cRLSign"): CheckResult[] {
  return [
    check(
      "signer matches issuer certificate",
      key.spki.equals(issuer.parsed.spki),
      `token key "${key.label}" ${key.spki.equals(issuer.parsed.spki) ? "is" : "is NOT"} the key of issuer ${issuer.facts.subject}`,
    ),
    check(
      "issuer is a CA",
      issuer.facts.isCa === true && (issuer.facts.keyUsage ?? []).includes(usage),
      `issuer basicConstraints cA=${issuer.facts.isCa}, key usage ${(issuer.facts.keyUsage ?? []).join(", ")}`,
    ),
  ];
}

function caPrepare(profile: CaProfile, build: () => CaPrepared): CaPrepared {
  const problems = profileProblems(profile);
  if (problems.length) throw new CeremonyError("check-failed", `profile ${profile.name}: ${problems.join("; ")}`);
  try {
    return build();
  } catch (e) {
    throw new CeremonyError("check-failed", (e as Error).message);
  }
}

/** Checks on the decoded TBS that every CA certificate must pass, whatever built it. */
function caFactChecks(d: DecodedTbs["facts"], profile: CaProfile): CheckResult[] {
  const out = [
    check(
      "basic constraints",
      d.isCa === true && d.basicConstraintsCritical === true,
      `cA=${d.isCa}, critical=${d.basicConstraintsCritical}`,
    ),
    check(
      "key usage",
      (d.keyUsage ?? []).includes("keyCertSign") && (d.keyUsage ?? []).includes("cRLSign"),
      (d.keyUsage ?? []).join(", "),
    ),
    check(
      "path length",
      d.pathLen === profile.pathLen,
      `pathLen ${d.pathLen ?? "none"} (profile ${profile.pathLen ?? "none"})`,
    ),
    check("key identifiers", !!d.subjectKeyId && !!d.authorityKeyId, `SKI ${d.subjectKeyId}, AKI ${d.authorityKeyId}`),
  ];
  if (profile.kind === "root") {
    out.push(
      check("no EKU on a root", !d.extendedKeyUsage, d.extendedKeyUsage ? d.extendedKeyUsage.join(", ") : "none"),
    );
    out.push(check("self-issued", d.subject === d.issuer, `${d.subject}`));
  } else {
    out.push(check("CRL distribution point", (d.crlUrls ?? []).length > 0, (d.crlUrls ?? []).join(", ") || "missing"));
  }
  return out;
}

interface Built {
  prep: CaPrepared;
  decoded: DecodedTbs;
  checks: CheckResult[];
  inputs: Record<string, JsonValue>;
  signer: HsmKey;
  proposers: string[];
}

async function signAndFinish(
  env: Parameters<Action["execute"]>[2],
  b: Built,
  approvedHash: string | null,
): Promise<{ der: Buffer; checks: CheckResult[] }> {
  const sig = await env.signTbs(b.signer, b.prep.tbs, b.prep.signatureAlgorithm);
  let der: Buffer;
  try {
    der = finishSigned(b.prep, sig, issuerKeyOf(b));
  } catch (e) {
    throw new CeremonyError("check-failed", (e as Error).message);
  }
  const parts = splitSigned(der);
  const reparsed = b.prep.kind === "certificate" ? parseCertificate(der) : undefined;
  return {
    der,
    checks: requireChecks([
      check("signature", verifySigned(der, issuerKeyOf(b)), "signature verifies with the issuer's public key"),
      check(
        "TBS unchanged",
        parts.tbs.equals(b.prep.tbs) && (approvedHash === null || b.prep.tbsHash.toString("hex") === approvedHash),
        "the signed TBS is byte-for-byte the approved one",
      ),
      check("re-parsed", reparsed === undefined || reparsed.tbs.equals(b.prep.tbs), "the result parses strictly"),
    ]),
  };
}

function issuerKeyOf(b: Built) {
  return b.signer.publicKey;
}

// ---- root ----

function buildRoot(step: RootStep, env: ActionEnv, serialHex?: string): Built {
  const token = env.token(step.params.token);
  const key = token.findKey(step.params.key);
  const alg: SignatureAlgorithm = step.params.signatureAlgorithm ?? defaultSignatureAlgorithm(key.spec);
  const serial = serialHex ? Buffer.from(serialHex, "hex") : hsmSerial(token);
  const profile = rootProfile(step.params.pathLen !== undefined ? { pathLen: step.params.pathLen } : {});
  const prep = caPrepare(profile, () =>
    prepareCertificate(profile, {
      serial,
      subject: dnOf(step.params.subject),
      subjectPublicKey: key.spki,
      notBefore: new Date(step.params.notBefore),
      notAfter: new Date(step.params.notAfter),
      signatureAlgorithm: alg,
    }),
  );
  const decoded = decodeTbs("certificate", prep.tbs);
  const checks = [
    check("output path unused", !env.outputExists(step.params.output), step.params.output),
    keyQuality(key.publicKey, `root key "${key.label}"`),
    check("public key", decoded.facts.spki?.sha256 === spkiSha256(key), "the certificate carries the token key"),
    ...caFactChecks(decoded.facts, profile),
  ];
  return {
    prep,
    decoded,
    checks,
    signer: key,
    proposers: [],
    inputs: {
      token: token.tokenInfo().label,
      key: key.label,
      spkiSha256: spkiSha256(key),
      serial: serial.toString("hex"),
      subject: step.params.subject,
      notBefore: step.params.notBefore,
      notAfter: step.params.notAfter,
      signatureAlgorithm: alg,
      profile: profile as unknown as JsonValue,
    },
  };
}

export const certRoot: Action<RootStep> = {
  plan: (s) => [
    `Build the self-signed root certificate CN=${s.params.subject.commonName} for key "${s.params.key}" (valid ${s.params.notBefore} to ${s.params.notAfter}) from the root profile`,
    "Show the decoded certificate; officers approve the SHA-256 of its exact tbsCertificate",
    `The root key signs only those bytes; the result is verified, re-parsed and written to ${s.params.output}`,
  ],
  async prepare(step, env) {
    const b = buildRoot(step, env);
    return {
      inputs: b.inputs,
      tbs: { kind: "certificate", der: b.prep.tbs },
      checks: requireChecks(b.checks),
      proposers: [],
      plan: certRoot.plan(step),
    };
  },
  async execute(step, prepared, env) {
    const b = buildRoot(step, env, prepared.inputs.serial as string);
    const { der, checks } = await signAndFinish(env, b, null);
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(derToPem(der)) }],
      keyAttributes: [b.signer.attributes()],
      checks,
      summary: { serial: b.inputs.serial!, subject: b.decoded.facts.subject ?? "", spkiSha256: b.inputs.spkiSha256! },
    };
  },
};

// ---- issuing SubCA ----

function buildSubCa(step: SubCaStep, env: ActionEnv, serialHex?: string): Built {
  const p = step.params;
  const token = env.token(p.token);
  const key = token.findKey(p.issuerKey);
  const issuer = loadCert(env, p.issuerCertificate, "issuer certificate");
  const reqRef = env.resolve(p.request);
  const csr = parseCsr(derOf(reqRef.bytes, "CERTIFICATE REQUEST"));
  const alg: SignatureAlgorithm = p.signatureAlgorithm ?? defaultSignatureAlgorithm(key.spec);
  const serial = serialHex ? Buffer.from(serialHex, "hex") : hsmSerial(token);
  const profile = issuingSubCaProfile({
    nameConstraints: {
      permittedDns: p.permittedDns,
      excludedDns: p.excludedDns ?? [],
      permittedIp: p.permittedIp,
      excludedIp: [],
    },
    issuerUrls: {
      crl: p.crlUrl,
      ...(p.issuerUrl ? { caIssuers: p.issuerUrl } : {}),
      ...(p.ocspUrl ? { ocsp: p.ocspUrl } : {}),
    },
    ekus: p.ekus,
  });
  const notBefore = new Date(p.notBefore);
  const notAfter = new Date(p.notAfter);
  const prep = caPrepare(profile, () =>
    prepareCertificate(profile, {
      serial,
      subject: dnOf(p.subject),
      subjectPublicKey: csr.spki,
      issuer: issuerFromCertificate(issuer.parsed),
      notBefore,
      notAfter,
      signatureAlgorithm: alg,
    }),
  );
  const decoded = decodeTbs("certificate", prep.tbs);
  const f = decoded.facts;
  const checks: CheckResult[] = [
    check("output path unused", !env.outputExists(p.output), p.output),
    ...signerChecks(key, issuer, "keyCertSign"),
    check("request proof of possession", true, "the request's signature verifies with its own key"),
    keyQuality(csr.subjectPublicKey, "SubCA key"),
    check("not the issuer's key", !csr.spki.equals(issuer.parsed.spki), "the SubCA key differs from the root key"),
    check(
      "within issuer validity",
      notBefore >= issuer.parsed.notBefore && notAfter <= issuer.parsed.notAfter,
      `issuer valid ${issuer.parsed.notBefore.toISOString()} to ${issuer.parsed.notAfter.toISOString()}`,
    ),
    ...caFactChecks(f, profile),
    check("path length 0", f.pathLen === 0, `pathLen ${f.pathLen}`),
    check("EKU", (f.extendedKeyUsage ?? []).join(",") === p.ekus.join(","), (f.extendedKeyUsage ?? []).join(", ")),
    check(
      "name constraints",
      f.nameConstraintsCritical === true &&
        (f.permittedDns ?? []).join(",") === p.permittedDns.join(",") &&
        (f.permittedIp ?? []).join(",") === p.permittedIp.join(","),
      `critical=${f.nameConstraintsCritical}; permitted DNS ${(f.permittedDns ?? []).join(", ")}; IP ${(f.permittedIp ?? []).join(", ")}; excluded IP ${(f.excludedIp ?? []).join(", ") || "none"}`,
    ),
  ];
  const proposers = [reqRef.proposer, issuer.ref.proposer].filter((x): x is string => !!x);
  const inputs: Record<string, JsonValue> = {
    token: token.tokenInfo().label,
    issuerKey: key.label,
    issuerCertificate: issuer.ref.sha256,
    request: reqRef.sha256,
    subjectSpkiSha256: keyIdOf(csr.spki),
    serial: serial.toString("hex"),
    subject: p.subject,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    signatureAlgorithm: alg,
    profile: profile as unknown as JsonValue,
  };
  if (p.replaces) {
    const old = loadCert(env, p.replaces, "replaced SubCA certificate");
    const overlap = notBefore < old.parsed.notAfter && notAfter > old.parsed.notAfter;
    checks.push(
      check(
        "rotation: same issuer",
        old.parsed.issuer.equals(issuer.parsed.subject),
        `old SubCA issued by ${old.facts.issuer}`,
      ),
      check("rotation: new key", !old.parsed.spki.equals(csr.spki), "the new SubCA key differs from the old one"),
      check(
        "rotation: overlap",
        overlap,
        `old valid until ${old.parsed.notAfter.toISOString()}, new from ${notBefore.toISOString()} to ${notAfter.toISOString()}`,
      ),
    );
    inputs.replaces = old.ref.sha256;
    if (old.ref.proposer) proposers.push(old.ref.proposer);
  }
  return { prep, decoded, checks, signer: key, proposers, inputs };
}

export const certSubCa: Action<SubCaStep> = {
  plan: (s) => [
    `Read the SubCA's certificate request and check its proof of possession and key quality`,
    `Build a technically constrained SubCA certificate CN=${s.params.subject.commonName}: pathLen 0, EKU ${s.params.ekus.join("+")}, permitted DNS ${s.params.permittedDns.join(", ") || "none"}, permitted IP ${s.params.permittedIp.join(", ") || "none"}`,
    `Check that token key "${s.params.issuerKey}" is the issuer certificate's key; officers approve the exact tbsCertificate`,
    `Sign, verify, re-parse and write ${s.params.output}`,
  ],
  async prepare(step, env) {
    const b = buildSubCa(step, env);
    return {
      inputs: b.inputs,
      tbs: { kind: "certificate", der: b.prep.tbs },
      checks: requireChecks(b.checks),
      proposers: b.proposers,
      plan: certSubCa.plan(step),
    };
  },
  async execute(step, prepared, env) {
    const b = buildSubCa(step, env, prepared.inputs.serial as string);
    const { der, checks } = await signAndFinish(env, b, null);
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(derToPem(der)) }],
      keyAttributes: [b.signer.attributes()],
      checks,
      summary: {
        serial: b.inputs.serial!,
        subject: b.decoded.facts.subject ?? "",
        subjectSpkiSha256: b.inputs.subjectSpkiSha256!,
      },
    };
  },
};

// ---- cross certificate ----

function buildCross(step: CrossStep, env: ActionEnv, serialHex?: string): Built {
  const p = step.params;
  const token = env.token(p.token);
  const key = token.findKey(p.issuerKey);
  const issuer = loadCert(env, p.issuerCertificate, "issuer certificate");
  const subject = loadCert(env, p.subjectCertificate, "certificate to cross-sign");
  const alg: SignatureAlgorithm = p.signatureAlgorithm ?? defaultSignatureAlgorithm(key.spec);
  const serial = serialHex ? Buffer.from(serialHex, "hex") : hsmSerial(token);
  const profile = crossProfile({
    ...(p.pathLen !== undefined ? { pathLen: p.pathLen } : {}),
    issuerUrls: { crl: p.crlUrl, ...(p.issuerUrl ? { caIssuers: p.issuerUrl } : {}) },
  });
  const ski = subjectKeyIdOf(subject.parsed);
  const notBefore = new Date(p.notBefore);
  const notAfter = new Date(p.notAfter);
  const prep = caPrepare(profile, () =>
    prepareCertificate(profile, {
      serial,
      subject: subject.parsed.subject,
      subjectPublicKey: subject.parsed.spki,
      ...(ski ? { subjectKeyIdentifier: ski } : {}),
      issuer: issuerFromCertificate(issuer.parsed),
      notBefore,
      notAfter,
      signatureAlgorithm: alg,
    }),
  );
  const decoded = decodeTbs("certificate", prep.tbs);
  const selfSigned =
    subject.parsed.issuer.equals(subject.parsed.subject) && verifySigned(subject.der, spkiKey(subject.parsed.spki));
  const checks: CheckResult[] = [
    check("output path unused", !env.outputExists(p.output), p.output),
    ...signerChecks(key, issuer, "keyCertSign"),
    check("cross-signed CA is a self-signed CA", selfSigned && subject.facts.isCa === true, `${subject.facts.subject}`),
    check(
      "same subject",
      decoded.facts.subject === subject.facts.subject,
      "the cross certificate copies the subject byte for byte",
    ),
    check(
      "same key identifier",
      decoded.facts.subjectKeyId === subject.facts.subjectKeyId,
      `SKI ${decoded.facts.subjectKeyId}`,
    ),
    check(
      "not before the existing certificate",
      notBefore >= subject.parsed.notBefore,
      `existing certificate valid from ${subject.parsed.notBefore.toISOString()}`,
    ),
    check("different CAs", !subject.parsed.spki.equals(issuer.parsed.spki), "a root does not cross-sign itself"),
    keyQuality(spkiKey(subject.parsed.spki), "cross-signed key"),
    ...caFactChecks(decoded.facts, profile),
  ];
  return {
    prep,
    decoded,
    checks,
    signer: key,
    proposers: [issuer.ref.proposer, subject.ref.proposer].filter((x): x is string => !!x),
    inputs: {
      token: token.tokenInfo().label,
      issuerKey: key.label,
      issuerCertificate: issuer.ref.sha256,
      subjectCertificate: subject.ref.sha256,
      serial: serial.toString("hex"),
      notBefore: p.notBefore,
      notAfter: p.notAfter,
      signatureAlgorithm: alg,
      profile: profile as unknown as JsonValue,
    },
  };
}

function spkiKey(spki: Buffer) {
  return createPublicKey({ key: spki, format: "der", type: "spki" });
}

export const certCross: Action<CrossStep> = {
  plan: (s) => [
    "Read the certificate of the CA to cross-sign; copy its subject and key identifier",
    `Build the cross certificate under issuer key "${s.params.issuerKey}"; officers approve the exact tbsCertificate`,
    `Sign, verify, re-parse and write ${s.params.output}`,
  ],
  async prepare(step, env) {
    const b = buildCross(step, env);
    return {
      inputs: b.inputs,
      tbs: { kind: "certificate", der: b.prep.tbs },
      checks: requireChecks(b.checks),
      proposers: b.proposers,
      plan: certCross.plan(step),
    };
  },
  async execute(step, prepared, env) {
    const b = buildCross(step, env, prepared.inputs.serial as string);
    const { der, checks } = await signAndFinish(env, b, null);
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(derToPem(der)) }],
      keyAttributes: [b.signer.attributes()],
      checks,
      summary: { serial: b.inputs.serial!, subject: b.decoded.facts.subject ?? "" },
    };
  },
};

// ---- import into the appliance ----

export const certImport: Action<ImportStep> = {
  plan: (s) => [
    `Check that the certificate carries the public key of "${s.params.key}" on token "${s.params.token}"`,
    "Check that the issuer signed it and that it is a CA certificate valid now",
    `Write the chain the appliance serves to ${s.params.output}`,
  ],
  async prepare(step, env) {
    const key = env.token(step.params.token).findKey(step.params.key);
    const cert = loadCert(env, step.params.certificate, "certificate");
    const issuer = loadCert(env, step.params.issuerCertificate, "issuer certificate");
    const now = env.now();
    const checks = requireChecks([
      check("output path unused", !env.outputExists(step.params.output), step.params.output),
      check(
        "matches the token key",
        cert.parsed.spki.equals(key.spki),
        `certificate key ${keyIdOf(cert.parsed.spki)}, token key ${spkiSha256(key)}`,
      ),
      check(
        "issued by the issuer",
        cert.parsed.issuer.equals(issuer.parsed.subject) && verifySigned(cert.der, spkiKey(issuer.parsed.spki)),
        `${cert.facts.issuer}`,
      ),
      check("CA certificate", cert.facts.isCa === true, `cA=${cert.facts.isCa}, pathLen ${cert.facts.pathLen}`),
      check(
        "valid now",
        cert.parsed.notBefore <= now && now <= cert.parsed.notAfter,
        `valid ${cert.parsed.notBefore.toISOString()} to ${cert.parsed.notAfter.toISOString()}`,
      ),
    ]);
    return {
      inputs: {
        token: env.token(step.params.token).tokenInfo().label,
        key: key.label,
        certificate: cert.ref.sha256,
        issuerCertificate: issuer.ref.sha256,
      },
      checks,
      proposers: [cert.ref.proposer, issuer.ref.proposer].filter((x): x is string => !!x),
      plan: certImport.plan(step),
    };
  },
  async execute(step, _prepared, env) {
    const key = env.token(step.params.token).findKey(step.params.key);
    const cert = loadCert(env, step.params.certificate, "certificate");
    const issuer = loadCert(env, step.params.issuerCertificate, "issuer certificate");
    if (!cert.parsed.spki.equals(key.spki))
      throw new CeremonyError("check-failed", "certificate does not match the token key");
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(derToPem(cert.der) + derToPem(issuer.der)) }],
      keyAttributes: [key.attributes()],
      checks: [check("installed chain", true, "certificate followed by its issuer")],
      summary: { certificate: cert.ref.sha256, spkiSha256: spkiSha256(key) },
    };
  },
};
