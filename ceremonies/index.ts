// ceremonies/: the key-ceremony engine the console and `plantroot ceremony` drive, without Electron.
// Scripts as data, quorum rules, approvals bound to exact TBS bytes, transcript, evidence, verifier.
export { KeyBackupSchema, parseBackup } from "./actions/backup.js";
export {
  type ApprovalKeySigner,
  type ApprovalRequest,
  type ApprovalStatement,
  approvalStatement,
  type RejectReason,
  type SignedApproval,
  SignedApprovalSchema,
  screenApproval,
  signApproval,
} from "./approvals.js";
export { type DecodedLine, type DecodedTbs, decodeTbs, formatDecoded, type TbsFacts, type TbsKind } from "./decode.js";
export { type DryRunOptions, dryRun, dryRunHash } from "./engine/dry-run.js";
export { type DryRunReport, type DryRunStep, parseDryRun } from "./engine/dry-run-report.js";
export { renderReport } from "./engine/report.js";
export { CeremonySession, type SealedBundle, type SessionEvent, type SessionOptions } from "./engine/session.js";
export type {
  ApprovalView,
  CheckResult,
  RejectionView,
  SignEvent,
  StepStatus,
  StepView,
} from "./engine/types.js";
export { CeremonyError, type CeremonyErrorKind, isCeremonyError } from "./errors.js";
export { canonicalBytes, canonicalJson, jcsHash, sha256Hex } from "./jcs.js";
export { APPROVAL_KEY_LABEL, OfficerToken, SHARE_KEY_LABEL } from "./officer.js";
export {
  alternatives,
  type CountedApproval,
  describeQuorum,
  eligibleApprovers,
  evaluateQuorum,
  type QuorumResult,
  type RoleAssignment,
  satisfiable,
} from "./quorum/evaluate.js";
export { formatQuorum, parseQuorum, type QuorumExpr } from "./quorum/grammar.js";
export {
  enrollmentStatement,
  type Participant,
  type ParticipantEntry,
  ParticipantSchema,
  Registry,
  type RegistryDocument,
} from "./registry.js";
export { ROLE_TITLES, ROLES, type Role } from "./roles.js";
export {
  type CeremonyScript,
  checkScriptSignatures,
  type LoadedScript,
  loadScript,
  type ScriptSignature,
  ScriptSchema,
  type ScriptStep,
  signScript,
} from "./script.js";
export { type ShareEnvelope, type ShareSet, ShareSetSchema } from "./shares.js";
export { type Checkpoint, type CheckpointBody, checkpointBytes, type TranscriptEntry } from "./transcript.js";
export { type VerifyPins, type VerifyReport, verifyBundle } from "./verify.js";
