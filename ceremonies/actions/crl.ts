// crl.issue: a root CRL (e.g. revoking a SubCA) built by appliance/ca's prepareCrl, with Boulder's
// CRL rules checked first: dates, number, every revoked entry a CA certificate of this issuer.
import { defaultSignatureAlgorithm, type SignatureAlgorithm } from "../../hsm/index.js";
import { derToPem, finishSigned, prepareCrl, subjectKeyIdOf } from "../../appliance/ca/index.js";
import { decodeTbs } from "../decode.js";
import type { Action, ActionEnv, CheckResult } from "../engine/types.js";
import { CeremonyError } from "../errors.js";
import type { JsonValue } from "../jcs.js";
import { splitSigned, verifySigned } from "../pkix.js";
import type { ScriptStep } from "../script.js";
import { loadCert } from "./certs.js";
import { check, requireChecks } from "./util.js";

type CrlStep = Extract<ScriptStep, { action: "crl.issue" }>;

const REASON_CODES: Record<CrlStep["params"]["revoked"][number]["reason"], number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

const MAX_CRL_SECONDS = 366 * 86400;

function buildCrl(step: CrlStep, env: ActionEnv) {
  const p = step.params;
  const token = env.token(p.token);
  const key = token.findKey(p.issuerKey);
  const issuer = loadCert(env, p.issuerCertificate, "issuer certificate");
  const alg: SignatureAlgorithm = p.signatureAlgorithm ?? defaultSignatureAlgorithm(key.spec);
  const thisUpdate = new Date(p.thisUpdate);
  const nextUpdate = new Date(p.nextUpdate);
  const ski = subjectKeyIdOf(issuer.parsed);
  const checks: CheckResult[] = [
    check("output path unused", !env.outputExists(p.output), p.output),
    check(
      "signer matches issuer certificate",
      key.spki.equals(issuer.parsed.spki),
      `token key "${key.label}" and ${issuer.facts.subject}`,
    ),
    check(
      "issuer may sign CRLs",
      (issuer.facts.keyUsage ?? []).includes("cRLSign"),
      (issuer.facts.keyUsage ?? []).join(", "),
    ),
    check("issuer key identifier", !!ski, "the issuer certificate has a subjectKeyIdentifier"),
    check("thisUpdate < nextUpdate", thisUpdate < nextUpdate, `${p.thisUpdate} .. ${p.nextUpdate}`),
    check(
      "at most 12 months",
      nextUpdate.getTime() - thisUpdate.getTime() <= MAX_CRL_SECONDS * 1000,
      "nextUpdate within 366 days",
    ),
    check(
      "within issuer validity",
      nextUpdate <= issuer.parsed.notAfter,
      `issuer valid until ${issuer.parsed.notAfter.toISOString()}`,
    ),
    check("number", p.number > 0, `CRL number ${p.number}`),
  ];
  const proposers = issuer.ref.proposer ? [issuer.ref.proposer] : [];
  const revoked: JsonValue[] = [];
  const entries = p.revoked.map((r, i) => {
    const c = loadCert(env, r.certificate, `revoked certificate ${i + 1}`);
    if (c.ref.proposer) proposers.push(c.ref.proposer);
    const ok = c.parsed.issuer.equals(issuer.parsed.subject) && verifySigned(c.der, key.publicKey);
    checks.push(
      check(
        "revoked entry issued here",
        ok,
        `${c.facts.subject} (serial ${c.facts.serial}) ${ok ? "was" : "was NOT"} issued by this CA`,
      ),
      check("revoked entry is a CA", c.facts.isCa === true, `${c.facts.subject} cA=${c.facts.isCa}`),
    );
    revoked.push({ serial: c.facts.serial ?? "", certificate: c.ref.sha256, reason: r.reason, date: r.date });
    return { serial: c.parsed.serial, revokedAt: new Date(r.date), reason: REASON_CODES[r.reason] };
  });
  if (!ski) throw new CeremonyError("check-failed", "the issuer certificate has no subjectKeyIdentifier");
  let prep: ReturnType<typeof prepareCrl>;
  try {
    prep = prepareCrl({
      issuer: { name: issuer.parsed.subject, keyIdentifier: ski },
      thisUpdate,
      nextUpdate,
      crlNumber: BigInt(p.number),
      entries,
      signatureAlgorithm: alg,
      ...(p.distributionPoint ? { issuingDistributionPoint: p.distributionPoint } : {}),
    });
  } catch (e) {
    throw new CeremonyError("check-failed", (e as Error).message);
  }
  const decoded = decodeTbs("crl", prep.tbs);
  checks.push(
    check("decoded number", decoded.facts.crlNumber === String(p.number), `CRL number ${decoded.facts.crlNumber}`),
    check(
      "decoded entries",
      (decoded.facts.revoked ?? []).length === p.revoked.length,
      `${decoded.facts.revoked?.length} entries`,
    ),
  );
  return {
    prep,
    key,
    checks,
    proposers,
    inputs: {
      token: token.tokenInfo().label,
      issuerKey: key.label,
      issuerCertificate: issuer.ref.sha256,
      number: p.number,
      thisUpdate: p.thisUpdate,
      nextUpdate: p.nextUpdate,
      signatureAlgorithm: alg,
      revoked,
      distributionPoint: p.distributionPoint ?? null,
    } satisfies Record<string, JsonValue>,
  };
}

export const crlIssue: Action<CrlStep> = {
  plan: (s) => [
    `Build CRL number ${s.params.number} (${s.params.thisUpdate} .. ${s.params.nextUpdate}) revoking ${s.params.revoked.length} CA certificate(s)`,
    `Check that token key "${s.params.issuerKey}" is the issuer certificate's key; officers approve the exact tbsCertList`,
    `Sign, verify and write ${s.params.output}`,
  ],
  async prepare(step, env) {
    const b = buildCrl(step, env);
    return {
      inputs: b.inputs,
      tbs: { kind: "crl", der: b.prep.tbs },
      checks: requireChecks(b.checks),
      proposers: b.proposers,
      plan: crlIssue.plan(step),
    };
  },
  async execute(step, _prepared, env) {
    const b = buildCrl(step, env);
    const sig = await env.signTbs(b.key, b.prep.tbs, b.prep.signatureAlgorithm);
    let der: Buffer;
    try {
      der = finishSigned(b.prep, sig, b.key.publicKey);
    } catch (e) {
      throw new CeremonyError("check-failed", (e as Error).message);
    }
    const checks = requireChecks([
      check("signature", verifySigned(der, b.key.publicKey), "signature verifies with the issuer's key"),
      check("TBS unchanged", splitSigned(der).tbs.equals(b.prep.tbs), "the signed tbsCertList is the approved one"),
      check(
        "re-parsed",
        decodeTbs("crl", splitSigned(der).tbs).facts.crlNumber === String(step.params.number),
        "the CRL parses",
      ),
    ]);
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(derToPem(der, "X509 CRL")) }],
      keyAttributes: [b.key.attributes()],
      checks,
      summary: { number: step.params.number, revoked: b.inputs.revoked },
    };
  },
};
