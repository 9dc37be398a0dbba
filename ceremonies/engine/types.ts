// Types shared by the ceremony engine and its actions: what an action gets to work with, what it
// returns, and the read-only views the console renders (steps, approvals, results).
import type { HsmKey, HsmToken, KeyAttributes, PinSource, SignatureAlgorithm } from "../../hsm/index.js";
import type { ApprovalRequest, RejectReason, SignedApproval } from "../approvals.js";
import type { DecodedTbs, TbsKind } from "../decode.js";
import type { JsonValue } from "../jcs.js";
import type { Registry } from "../registry.js";
import type { Role } from "../roles.js";
import type { LoadedScript, Ref, ScriptStep } from "../script.js";
import type { ShareCollector, ShareSet } from "../shares.js";

/** One named check before or after signing. */
export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** A document a step reads: its bytes, where it came from, and who supplied it (dynamic inputs). */
export interface ResolvedRef {
  bytes: Buffer;
  /** bundle path of the bytes */
  path: string;
  sha256: string;
  /** participant who supplied it during the ceremony, if it was a dynamic input */
  proposer?: string;
}

/** What every action may use. Tokens are only reachable once their unlock step ran. */
export interface ActionEnv {
  readonly ceremonyId: string;
  readonly stepId: string;
  readonly script: LoadedScript;
  readonly registry: Registry;
  readonly library: string;
  now(): Date;
  token(name: string): HsmToken;
  /** whether the token is unlocked in this session */
  hasToken(name: string): boolean;
  resolve(ref: Ref): ResolvedRef;
  outputExists(path: string): boolean;
  /** the PIN share set of a quorum token (created in this ceremony or handed to the session) */
  pinShares(name: string): ShareSet;
  /** the PIN source of an operator token (the appliance's own PIN, handed to the session) */
  operatorPin(name: string): PinSource;
  /** people assigned to this ceremony holding `role` */
  assigned(role: Role): string[];
}

/** The result of `prepare`: everything approvers see and sign. */
export interface Prepared {
  /** resolved inputs; their canonical hash is the approvals' inputsHash */
  inputs: Record<string, JsonValue>;
  /** the exact to-be-signed bytes, for steps that sign */
  tbs?: { kind: TbsKind; der: Buffer };
  /** pre-signing checks; prepare throws if one fails, so all present here passed */
  checks: CheckResult[];
  /** participants who supplied inputs (they cannot approve the step) */
  proposers: string[];
  /** a share set people must open on their tokens before execution (unlock, recovery) */
  shares?: ShareSet;
  /** what the step will do, refined with resolved values */
  plan: string[];
}

/** The one way an action gets a TBS signed: through the engine's quorum gate. */
export type TbsSigner = (key: HsmKey, der: Buffer, alg: SignatureAlgorithm) => Promise<Buffer>;

export interface ExecEnv extends ActionEnv {
  signTbs: TbsSigner;
  /** other signatures an action makes (recovery proof): reported to the sign observer, not gated by a TBS */
  signOther(kind: "recovery-proof", key: HsmKey, data: Buffer): Promise<Buffer>;
  /** the opened shares, for steps whose Prepared had `shares` */
  shares: ShareCollector | undefined;
  /** for token.unlock/token.init: hand an opened token to the session */
  adoptToken(name: string, token: HsmToken): void;
  /** for token.init: the PIN share sets it created */
  adoptPinShares(name: string, sets: { user: ShareSet; so: ShareSet }): void;
  /** for token.init: the checkpoint key it created */
  adoptLogKey(key: { token: string; label: string; keyId: string }): void;
}

export interface Executed {
  /** new bundle files (the engine writes them exclusively and records their hashes) */
  outputs: Array<{ path: string; bytes: Buffer }>;
  /** attributes read back from the HSM for keys the step made or used */
  keyAttributes: KeyAttributes[];
  /** post-signing checks (all passed) */
  checks: CheckResult[];
  summary: Record<string, JsonValue>;
}

export interface Action<S extends ScriptStep = ScriptStep> {
  /** What the step will do, from the script alone (shown before prepare and in the dry run). */
  plan(step: S): string[];
  prepare(step: S, env: ActionEnv): Promise<Prepared>;
  execute(step: S, prepared: Prepared, env: ExecEnv): Promise<Executed>;
}

// ---- views for the console ----

export type StepStatus = "waiting" | "ready" | "collecting" | "done" | "failed";

export interface ApprovalView {
  person: string;
  name: string;
  role: Role;
  time: string;
  keyId: string;
  approval: SignedApproval;
}

export interface RejectionView {
  person?: string;
  reason: RejectReason;
  detail: string;
  time: string;
}

export interface StepView {
  index: number;
  id: string;
  action: ScriptStep["action"];
  title: string;
  status: StepStatus;
  /** what the step will do */
  plan: string[];
  requires: {
    expression: string;
    description: string;
    eligible: Array<{ person: string; name: string; roles: Role[] }>;
  };
  prepared?: {
    /** what an approver's token signs, minus approver, role, keyId and time */
    request: ApprovalRequest;
    inputs: Record<string, JsonValue>;
    inputsHash: string;
    tbs?: DecodedTbs;
    checks: CheckResult[];
    proposers: string[];
    shares?: { purpose: string; threshold: number; holders: string[]; contributed: string[] };
  };
  approvals: ApprovalView[];
  rejections: RejectionView[];
  quorum: { satisfied: boolean; unmet: string[] };
  result?: {
    outputs: Array<{ path: string; sha256: string }>;
    keyAttributes: KeyAttributes[];
    checks: CheckResult[];
    summary: Record<string, JsonValue>;
  };
  error?: { kind: string; message: string };
}

/** Reported to `SessionOptions.onSign` immediately before the engine asks the HSM for a signature. */
export interface SignEvent {
  kind: "tbs" | "checkpoint" | "recovery-proof";
  stepId: string | null;
  token: string;
  keyLabel: string;
  /** SHA-256 of the signed bytes */
  sha256: string;
}
