// Approvals: the canonical statement an officer's token signs (ceremony, script hash, step, inputs
// hash, SHA-256 of the exact TBS bytes), and screening of submitted approvals against a step's rules.
import { z } from "zod";
import { CeremonyError } from "./errors.js";
import { canonicalBytes, HEX64 } from "./jcs.js";
import { B64, verifySha256 } from "./keys.js";
import type { RoleAssignment } from "./quorum/evaluate.js";
import type { Registry } from "./registry.js";
import { PERSON_ID } from "./registry.js";
import { ROLES, type Role } from "./roles.js";

export const APPROVAL_TYPE = "plantroot/ceremony-approval/v1";
export const STEP_ID = /^[a-z0-9][a-z0-9-]{0,47}$/;
const hex64 = z.string().regex(HEX64, "must be 64 lower-case hex digits");

/**
 * What an approver signs. Byte layout: RFC 8785 canonical JSON of this object, UTF-8, signed with
 * ECDSA P-256 / SHA-256 (DER signature) by the approval key on the approver's own token.
 */
export const ApprovalStatementSchema = z.strictObject({
  type: z.literal(APPROVAL_TYPE),
  ceremonyId: z.string().min(1).max(64),
  /** SHA-256 of the script's canonical JSON (the script in turn pins the registry) */
  scriptHash: hex64,
  stepId: z.string().regex(STEP_ID),
  action: z.string().min(1).max(48),
  /** SHA-256 of the canonical JSON of the step's resolved inputs */
  inputsHash: hex64,
  /** SHA-256 of the exact DER tbsCertificate / tbsCertList / CertificationRequestInfo; null for steps that sign nothing */
  tbsHash: hex64.nullable(),
  approver: z.string().regex(PERSON_ID),
  role: z.enum(ROLES),
  /** SHA-256 of the approver's approval-key SPKI */
  keyId: hex64,
  /** when the approver signed, RFC 3339 UTC */
  time: z.iso.datetime({ offset: false }),
});
export type ApprovalStatement = z.infer<typeof ApprovalStatementSchema>;

export const SignedApprovalSchema = z.strictObject({
  statement: ApprovalStatementSchema,
  /** base64 DER ECDSA signature over canonicalBytes(statement) */
  signature: z.string().regex(B64).min(8).max(512),
});
export type SignedApproval = z.infer<typeof SignedApprovalSchema>;

/** The part of a statement the engine fixes for a step; the approver adds who, role, key and time. */
export interface ApprovalRequest {
  ceremonyId: string;
  scriptHash: string;
  stepId: string;
  action: string;
  inputsHash: string;
  tbsHash: string | null;
}

/** Anything that signs bytes with an approval key: an officer's HsmKey, or a test double of one. */
export interface ApprovalKeySigner {
  /** DER ECDSA P-256 / SHA-256 signature over `data` */
  sign(data: Buffer): Promise<Buffer>;
}

export function approvalStatement(
  req: ApprovalRequest,
  approver: { id: string; keyId: string },
  role: Role,
  time: Date,
): ApprovalStatement {
  return ApprovalStatementSchema.parse({
    type: APPROVAL_TYPE,
    ...req,
    approver: approver.id,
    role,
    keyId: approver.keyId,
    time: time.toISOString(),
  });
}

export async function signApproval(statement: ApprovalStatement, signer: ApprovalKeySigner): Promise<SignedApproval> {
  const sig = await signer.sign(canonicalBytes(statement));
  return { statement, signature: sig.toString("base64") };
}

/** Why an approval was not counted. */
export type RejectReason =
  | "malformed"
  | "unknown-approver"
  | "unknown-key"
  | "bad-signature"
  | "other-ceremony"
  | "other-script"
  | "other-step"
  | "other-inputs"
  | "other-tbs"
  | "role-not-held"
  | "self-approval"
  | "expired"
  | "from-the-future"
  | "duplicate";

/** What a step demands of its approvals. */
export interface StepExpectation extends ApprovalRequest {
  /** people who supplied this step's inputs: their approvals do not count (no self-approval) */
  proposers: readonly string[];
  /** how long an approval stays valid, seconds */
  ttlSeconds: number;
}

/** Allowed clock difference between an approver's statement time and the engine's clock. */
export const CLOCK_SKEW_MS = 120_000;

export type Screened =
  | { ok: true; approval: SignedApproval }
  | { ok: false; reason: RejectReason; detail: string; approval?: SignedApproval };

/**
 * Screens one approval (untrusted input) for a step at time `now`. `counted` are approvals already
 * accepted for the step: a person who already counts cannot count again.
 */
export function screenApproval(
  raw: unknown,
  exp: StepExpectation,
  registry: Registry,
  assignment: RoleAssignment,
  now: Date,
  counted: readonly SignedApproval[] = [],
): Screened {
  const parsed = SignedApprovalSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: "malformed", detail: z.prettifyError(parsed.error) };
  const approval = parsed.data;
  const s = approval.statement;
  const no = (reason: RejectReason, detail: string): Screened => ({ ok: false, reason, detail, approval });
  const who = registry.get(s.approver);
  if (!who) return no("unknown-approver", `"${s.approver}" is not in the participant registry`);
  if (s.keyId !== who.keyId)
    return no("unknown-key", `key ${s.keyId.slice(0, 16)}… is not ${s.approver}'s enrolled approval key`);
  if (!verifySha256(who.approvalKey, canonicalBytes(s), approval.signature))
    return no("bad-signature", `signature does not verify with ${s.approver}'s approval key`);
  if (s.ceremonyId !== exp.ceremonyId) return no("other-ceremony", `approval is for ceremony ${s.ceremonyId}`);
  if (s.scriptHash !== exp.scriptHash) return no("other-script", "approval is for a different script");
  if (s.stepId !== exp.stepId || s.action !== exp.action)
    return no("other-step", `approval is for step ${s.stepId} (${s.action})`);
  if (s.inputsHash !== exp.inputsHash) return no("other-inputs", "approval covers different step inputs");
  if (s.tbsHash !== exp.tbsHash)
    return no("other-tbs", `approval covers TBS ${s.tbsHash ?? "none"}, this step signs ${exp.tbsHash ?? "nothing"}`);
  if (!(assignment[s.role] ?? []).includes(s.approver))
    return no("role-not-held", `${s.approver} is not assigned as ${s.role} in this ceremony`);
  if (exp.proposers.includes(s.approver))
    return no("self-approval", `${s.approver} supplied this step's input and cannot approve it`);
  const t = Date.parse(s.time);
  if (t > now.getTime() + CLOCK_SKEW_MS)
    return no("from-the-future", `approval is dated ${s.time}, after the engine clock`);
  if (now.getTime() - t > exp.ttlSeconds * 1000)
    return no("expired", `approval from ${s.time} is older than ${exp.ttlSeconds} s`);
  if (counted.some((c) => c.statement.approver === s.approver))
    return no("duplicate", `${s.approver} already approved this step`);
  return { ok: true, approval };
}

/** Screens a batch in order; returns the approvals that count and the refusals. */
export function screenApprovals(
  raws: readonly unknown[],
  exp: StepExpectation,
  registry: Registry,
  assignment: RoleAssignment,
  now: Date,
): { accepted: SignedApproval[]; rejected: Array<Extract<Screened, { ok: false }>> } {
  const accepted: SignedApproval[] = [];
  const rejected: Array<Extract<Screened, { ok: false }>> = [];
  for (const raw of raws) {
    const r = screenApproval(raw, exp, registry, assignment, now, accepted);
    if (r.ok) accepted.push(r.approval);
    else rejected.push(r);
  }
  return { accepted, rejected };
}

export function requireStepId(id: string): string {
  if (!STEP_ID.test(id)) throw new CeremonyError("bad-script", `step id "${id}" must match ${STEP_ID}`);
  return id;
}
