// Key actions: generate a CA key pair in the HSM (never extractable unless the script chose wrapped
// backup), read its attributes back from the token, and confirm the participant registry.
import type { Action } from "../engine/types.js";
import type { ScriptStep } from "../script.js";
import { keyQuality } from "./key-quality.js";
import { attributesPath, check, pem, publicKeyPath, requireChecks, spkiSha256 } from "./util.js";

type GenerateStep = Extract<ScriptStep, { action: "key.generate" }>;
type ConfirmStep = Extract<ScriptStep, { action: "registry.confirm" }>;

export const keyGenerate: Action<GenerateStep> = {
  plan: (s) => [
    `Generate a ${s.params.spec} key pair "${s.params.label}" inside HSM token "${s.params.token}"`,
    s.params.backup === "wrap"
      ? "Backup chosen: the private key is sensitive but extractable, so it can leave the token only wrapped under a key-encryption key"
      : "No backup: the private key is sensitive and never extractable; it cannot leave the token in any form",
    "Read the key's attributes back from the HSM and record them",
  ],

  async prepare(step, env) {
    const token = env.token(step.params.token);
    const used = token.labelExists(step.params.label);
    const info = token.tokenInfo();
    const out = [
      publicKeyPath(step.params.token, step.params.label),
      attributesPath(step.params.token, step.params.label),
    ];
    const checks = requireChecks([
      check(
        "key label unused",
        !used,
        used
          ? `"${step.params.label}" already exists on token "${info.label}"`
          : `"${step.params.label}" is free on "${info.label}"`,
      ),
      ...out.map((o) => check("output path unused", !env.outputExists(o), o)),
    ]);
    return {
      inputs: {
        token: info.label,
        tokenSerial: info.serial,
        label: step.params.label,
        spec: step.params.spec,
        backup: step.params.backup,
      },
      checks,
      proposers: [],
      plan: keyGenerate.plan(step),
    };
  },

  async execute(step, _prepared, env) {
    const token = env.token(step.params.token);
    const wrap = step.params.backup === "wrap";
    const key = token.generateKeyPair({ label: step.params.label, spec: step.params.spec, extractable: wrap });
    const a = key.attributes();
    const checks = requireChecks([
      check(
        "key attributes",
        a.token &&
          a.private &&
          a.sensitive &&
          a.alwaysSensitive &&
          a.local &&
          a.sign &&
          !a.decrypt &&
          !a.unwrap &&
          !a.derive,
        `token=${a.token} private=${a.private} sensitive=${a.sensitive} alwaysSensitive=${a.alwaysSensitive} local=${a.local}`,
      ),
      check(
        "extractability",
        wrap ? a.extractable && !a.neverExtractable : !a.extractable && a.neverExtractable,
        wrap
          ? `extractable=${a.extractable} (wrapped backup chosen)`
          : `extractable=${a.extractable} neverExtractable=${a.neverExtractable}`,
      ),
      keyQuality(key.publicKey, `key "${step.params.label}"`),
    ]);
    return {
      outputs: [
        { path: publicKeyPath(step.params.token, step.params.label), bytes: Buffer.from(pem("PUBLIC KEY", key.spki)) },
        {
          path: attributesPath(step.params.token, step.params.label),
          bytes: Buffer.from(`${JSON.stringify(a, null, 2)}\n`),
        },
      ],
      keyAttributes: [a],
      checks,
      summary: {
        label: key.label,
        spec: key.spec,
        spkiSha256: spkiSha256(key),
        uri: key.uri,
        neverExtractable: a.neverExtractable,
        backup: step.params.backup,
      },
    };
  },
};

export const registryConfirm: Action<ConfirmStep> = {
  plan: () => [
    "Every participant confirms, with the key on their own token, the participant registry this ceremony uses",
  ],
  async prepare(step, env) {
    return {
      inputs: {
        registryHash: env.registry.hash,
        participants: env.registry.participants.map((p) => ({
          id: p.id,
          name: p.name,
          roles: [...p.roles],
          keyId: p.keyId,
        })),
      },
      checks: [
        check("registry", true, `registry ${env.registry.hash} with ${env.registry.participants.length} participants`),
      ],
      proposers: [],
      plan: registryConfirm.plan(step),
    };
  },
  async execute() {
    return { outputs: [], keyAttributes: [], checks: [], summary: {} };
  },
};
