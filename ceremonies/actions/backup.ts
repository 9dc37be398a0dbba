// Key backup and recovery: wrap an extractable CA key under a key-encryption key made in the HSM,
// split the KEK M-of-N among custodians; recover by rebuilding the KEK from custodians' shares into a
// second token, unwrapping there, and proving the recovered key by a signature checked against the original.
import { createPublicKey, verify } from "node:crypto";
import { z } from "zod";
import { KEY_SPECS } from "../../hsm/key-spec.js";
import {
  CKM_AES_KEY_WRAP_PAD,
  generateBackupKek,
  importKek,
  unwrapPrivateKey,
  wrapPrivateKey,
} from "../../hsm/wrap.js";
import type { Action } from "../engine/types.js";
import { CeremonyError } from "../errors.js";
import { canonicalBytes, canonicalJson, jcsHash } from "../jcs.js";
import { B64, keyIdOf } from "../keys.js";
import type { ScriptStep } from "../script.js";
import { ShareSetSchema, splitSecret } from "../shares.js";
import { check, requireChecks, spkiSha256 } from "./util.js";

type WrapStep = Extract<ScriptStep, { action: "backup.wrap" }>;
type RecoverStep = Extract<ScriptStep, { action: "backup.recover" }>;

export const KeyBackupSchema = z.strictObject({
  schema: z.literal("plantroot/key-backup/v1"),
  ceremonyId: z.string(),
  key: z.strictObject({
    label: z.string(),
    id: z.string().regex(/^[0-9a-f]+$/),
    spec: z.enum(KEY_SPECS),
    spki: z.string().regex(B64),
  }),
  sourceToken: z.strictObject({ label: z.string(), serial: z.string() }),
  mechanism: z.literal("CKM_AES_KEY_WRAP_PAD"),
  mechanismId: z.literal(CKM_AES_KEY_WRAP_PAD),
  wrapped: z.string().regex(B64),
  kekShares: ShareSetSchema,
});
export type KeyBackup = z.infer<typeof KeyBackupSchema>;

export function parseBackup(bytes: Buffer): KeyBackup {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new CeremonyError("check-failed", "key backup is not JSON");
  }
  const r = KeyBackupSchema.safeParse(v);
  if (!r.success) throw new CeremonyError("check-failed", `key backup: ${z.prettifyError(r.error)}`);
  return r.data;
}

export const backupWrap: Action<WrapStep> = {
  plan: (s) => [
    `Generate a 256-bit AES key-encryption key inside token "${s.params.token}"`,
    `Wrap key "${s.params.key}" under it (RFC 5649, CKM_AES_KEY_WRAP_PAD) and write ${s.params.output}`,
    `Split the key-encryption key ${s.params.threshold}-of-N among the custodians, each share sealed to the custodian's own token; destroy the KEK and wipe its value`,
  ],

  async prepare(step, env) {
    const token = env.token(step.params.token);
    const key = token.findKey(step.params.key);
    const a = key.attributes();
    const custodians = env.assigned("custodian").map((id) => env.registry.require(id));
    const checks = requireChecks([
      check(
        "key is wrappable",
        a.extractable && a.sensitive,
        a.extractable
          ? `key "${step.params.key}" is sensitive and extractable (wrapped backup was chosen when it was made)`
          : `key "${step.params.key}" was made never-extractable: it cannot be backed up`,
      ),
      check("output path unused", !env.outputExists(step.params.output), step.params.output),
      check(
        "custodians",
        custodians.length >= step.params.threshold && custodians.every((c) => c.shareKey),
        `${custodians.length} custodians with share keys for threshold ${step.params.threshold}`,
      ),
    ]);
    return {
      inputs: {
        token: token.tokenInfo().label,
        key: key.label,
        keyId: key.id.toString("hex"),
        spkiSha256: spkiSha256(key),
        threshold: step.params.threshold,
        custodians: custodians.map((c) => ({ id: c.id, shareKeyId: keyIdOf(c.shareKey!) })),
        mechanism: "CKM_AES_KEY_WRAP_PAD",
      },
      checks,
      proposers: [],
      plan: backupWrap.plan(step),
    };
  },

  async execute(step, _prepared, env) {
    const token = env.token(step.params.token);
    const key = token.findKey(step.params.key);
    const custodians = env.assigned("custodian").map((id) => env.registry.require(id));
    const { kek, value } = generateBackupKek(token);
    let backup: KeyBackup;
    try {
      const wrapped = wrapPrivateKey(token, kek, key);
      kek.destroy();
      const info = token.tokenInfo();
      const kekShares = await splitSecret(value, {
        purpose: "backup-kek",
        subject: key.label,
        threshold: step.params.threshold,
        recipients: custodians.map((c) => ({ id: c.id, shareKey: c.shareKey! })),
        context: `backup-kek:${env.ceremonyId}:${info.label}:${key.label}`,
      });
      backup = {
        schema: "plantroot/key-backup/v1",
        ceremonyId: env.ceremonyId,
        key: { label: key.label, id: key.id.toString("hex"), spec: key.spec, spki: key.spki.toString("base64") },
        sourceToken: { label: info.label, serial: info.serial },
        mechanism: "CKM_AES_KEY_WRAP_PAD",
        mechanismId: CKM_AES_KEY_WRAP_PAD,
        wrapped: wrapped.toString("base64"),
        kekShares,
      };
    } finally {
      value.fill(0);
      kek.destroy();
    }
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(`${canonicalJson(backup)}\n`) }],
      keyAttributes: [key.attributes()],
      checks: [],
      summary: {
        key: key.label,
        wrappedSha256: jcsHash(backup.wrapped),
        threshold: step.params.threshold,
        custodians: custodians.map((c) => c.id),
      },
    };
  },
};

export const RECOVERY_PROOF_TYPE = "plantroot/recovery-proof/v1";

export const backupRecover: Action<RecoverStep> = {
  plan: (s) => [
    `Custodians open their shares of the key-encryption key on their own tokens; it is rebuilt in memory and imported into token "${s.params.token}" as a session key`,
    `Unwrap key "${s.params.key}" into token "${s.params.token}" (sensitive, not extractable) and destroy the KEK`,
    `Prove the recovery: the recovered key signs a statement that is verified with the original public key; write ${s.params.output}`,
  ],

  async prepare(step, env) {
    const src = env.resolve(step.params.backup);
    const backup = parseBackup(src.bytes);
    const token = env.token(step.params.token);
    const used = token.labelExists(step.params.key);
    const checks = requireChecks([
      check("backup names the key", backup.key.label === step.params.key, `backup holds "${backup.key.label}"`),
      check(
        "key label unused",
        !used,
        `"${step.params.key}" ${used ? "already exists" : "is free"} on the target token`,
      ),
      check("output path unused", !env.outputExists(step.params.output), step.params.output),
    ]);
    return {
      inputs: {
        backup: src.sha256,
        key: backup.key.label,
        keyId: backup.key.id,
        spkiSha256: keyIdOf(Buffer.from(backup.key.spki, "base64")),
        sourceToken: backup.sourceToken,
        targetToken: token.tokenInfo().label,
        targetSerial: token.tokenInfo().serial,
      },
      checks,
      proposers: src.proposer ? [src.proposer] : [],
      shares: backup.kekShares,
      plan: backupRecover.plan(step),
    };
  },

  async execute(step, prepared, env) {
    const backup = parseBackup(env.resolve(step.params.backup).bytes);
    const token = env.token(step.params.token);
    const collector = env.shares;
    if (!collector) throw new CeremonyError("wrong-state", "no KEK shares were collected");
    const contributors = collector.contributors;
    const kek = await collector.use((value) => importKek(token, value));
    let recovered: ReturnType<typeof unwrapPrivateKey>;
    try {
      recovered = unwrapPrivateKey(token, kek, Buffer.from(backup.wrapped, "base64"), {
        label: backup.key.label,
        id: Buffer.from(backup.key.id, "hex"),
        spec: backup.key.spec,
        spki: Buffer.from(backup.key.spki, "base64"),
      });
    } finally {
      kek.destroy();
    }
    const original = createPublicKey({ key: Buffer.from(backup.key.spki, "base64"), format: "der", type: "spki" });
    const statement = {
      type: RECOVERY_PROOF_TYPE,
      ceremonyId: env.ceremonyId,
      step: step.id,
      key: backup.key.label,
      spkiSha256: prepared.inputs.spkiSha256 as string,
      token: token.tokenInfo().label,
      time: env.now().toISOString(),
    };
    const data = canonicalBytes(statement);
    const alg = recovered.defaultAlgorithm;
    const signature = await env.signOther("recovery-proof", recovered, data);
    const hash = alg.startsWith("rsa-") || alg.startsWith("ecdsa-") ? alg.slice(alg.lastIndexOf("-") + 1) : null;
    const a = recovered.attributes();
    const checks = requireChecks([
      check(
        "recovered public key",
        recovered.spki.equals(Buffer.from(backup.key.spki, "base64")),
        "the recovered key pair carries the original public key",
      ),
      check(
        "recovery proof",
        verify(hash, data, original, signature),
        "a signature by the recovered key verifies with the original public key",
      ),
      check(
        "recovered key attributes",
        a.sensitive && !a.extractable && a.sign,
        `sensitive=${a.sensitive} extractable=${a.extractable}`,
      ),
    ]);
    const proof = { statement, algorithm: alg, signature: signature.toString("base64") };
    return {
      outputs: [{ path: step.params.output, bytes: Buffer.from(`${canonicalJson(proof)}\n`) }],
      keyAttributes: [a],
      checks,
      summary: { key: recovered.label, token: statement.token, contributors },
    };
  },
};
