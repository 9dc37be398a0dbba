// csr.create: a PKCS#10 request for a key in a token (e.g. a SubCA key on the appliance), its
// CertificationRequestInfo approved by the quorum like any other TBS before the key signs it.
import { verify } from "node:crypto";
import { defaultSignatureAlgorithm, hashOf } from "../../hsm/index.js";
import { decodeTbs } from "../decode.js";
import type { Action } from "../engine/types.js";
import { assembleCsr, buildCsrInfo, parseCsr } from "../pkix.js";
import type { ScriptStep } from "../script.js";
import { keyQuality } from "./key-quality.js";
import { check, pem, requireChecks, spkiSha256 } from "./util.js";

type CsrStep = Extract<ScriptStep, { action: "csr.create" }>;

export const csrCreate: Action<CsrStep> = {
  plan: (s) => [
    `Build a certificate request for key "${s.params.key}" on token "${s.params.token}" with subject CN=${s.params.subject.commonName}`,
    "The key signs the request only after the quorum approved the exact request bytes",
    `Write ${s.params.output}`,
  ],

  async prepare(step, env) {
    const key = env.token(step.params.token).findKey(step.params.key);
    const alg = step.params.signatureAlgorithm ?? defaultSignatureAlgorithm(key.spec);
    const der = buildCsrInfo(step.params.subject, key.spki);
    const checks = requireChecks([
      check("output path unused", !env.outputExists(step.params.output), step.params.output),
      keyQuality(key.publicKey, `key "${step.params.key}"`),
      check("decodes", decodeTbs("csr", der).facts.spki?.sha256 === spkiSha256(key), "request carries the token key"),
    ]);
    return {
      inputs: {
        token: env.token(step.params.token).tokenInfo().label,
        key: step.params.key,
        spkiSha256: spkiSha256(key),
        subject: step.params.subject,
        signatureAlgorithm: alg,
      },
      tbs: { kind: "csr", der },
      checks,
      proposers: [],
      plan: csrCreate.plan(step),
    };
  },

  async execute(step, prepared, env) {
    const key = env.token(step.params.token).findKey(step.params.key);
    const alg = prepared.inputs.signatureAlgorithm as ReturnType<typeof defaultSignatureAlgorithm>;
    const der = buildCsrInfo(step.params.subject, key.spki);
    const sig = await env.signTbs(key, der, alg);
    const csr = assembleCsr(der, alg, sig);
    const parsed = parseCsr(csr);
    const checks = requireChecks([
      check(
        "signature",
        verify(hashOf(alg)!, der, key.publicKey, sig),
        "request signature verifies with the token key",
      ),
      check("request bytes", parsed.infoDer.equals(der), "the signed request info equals the approved bytes"),
    ]);
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(pem("CERTIFICATE REQUEST", csr)) }],
      keyAttributes: [key.attributes()],
      checks,
      summary: { key: step.params.key, spkiSha256: spkiSha256(key) },
    };
  },
};
