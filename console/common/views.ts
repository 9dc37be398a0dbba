// The data the console's main process hands to the renderer: plain, serialisable views of officers,
// tokens, scripts, the running ceremony, evidence and inventory. Types only; imports nothing.

export const ROLES = ["admin", "witness", "officer", "auditor", "custodian"] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_TITLES: Record<Role, string> = {
  admin: "ceremony administrator",
  witness: "internal witness",
  officer: "crypto officer",
  auditor: "auditor",
  custodian: "key backup custodian",
};

/** An error as the renderer sees it: a kind to branch on and a sentence for people. */
export interface ErrorView {
  kind: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorView };

/** A PKCS#11 token that is present (a smart card in production, a SoftHSM token in tests). */
export interface TokenView {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
}

export interface ParticipantView {
  id: string;
  name: string;
  roles: Role[];
  tokenLabel: string;
  tokenSerial: string;
  /** SHA-256 of the approval key's SPKI (hex) */
  keyId: string;
  enrolledAt: string;
  /** set while the person is checked in at this console */
  present: { since: string; tokenLabel: string } | null;
}

export interface RegistryView {
  /** which PKI the registry belongs to; null before the first enrollment */
  name: string | null;
  /** SHA-256 of the registry's canonical JSON: scripts pin it */
  hash: string | null;
  participants: ParticipantView[];
  /** check-ins and check-outs at this console, newest first */
  attendance: Array<{ time: string; person: string; event: "in" | "out" }>;
}

export interface ScriptSignatureView {
  person: string;
  name: string;
  capacity: "author" | "reviewer";
  status: "signed" | "missing" | "invalid";
  time?: string;
  detail?: string;
}

export interface TbsLineView {
  label: string;
  value: string;
  critical?: boolean;
}

export interface TbsView {
  kind: "certificate" | "crl" | "csr";
  /** SHA-256 of the exact to-be-signed DER */
  sha256: string;
  lines: TbsLineView[];
}

export interface CheckView {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DryRunStepView {
  id: string;
  action: string;
  status: "simulated" | "not-simulated";
  note: string;
  plan: string[];
  checks: CheckView[];
  tbs: TbsView | null;
}

export interface ScriptPackageView {
  /** the package directory name */
  id: string;
  /** why the package cannot be used, if it cannot */
  problem: string | null;
  title: string;
  ceremonyId: string;
  scriptHash: string | null;
  registryHash: string | null;
  steps: Array<{ id: string; title: string; action: string; requires: string }>;
  signatures: ScriptSignatureView[];
  dryRun: { time: string; hash: string; steps: DryRunStepView[] } | null;
  /** every signature present and valid, dry run present: the ceremony can start */
  ready: boolean;
  /** who still has to do what before the day, in words */
  missing: string[];
}

export interface KeyAttributesView {
  label: string;
  id: string;
  keyType: string;
  token: boolean;
  private: boolean;
  sensitive: boolean;
  alwaysSensitive: boolean;
  extractable: boolean;
  neverExtractable: boolean;
  local: boolean;
  sign: boolean;
  decrypt: boolean;
  unwrap: boolean;
  derive: boolean;
}

export type StepStatus = "waiting" | "ready" | "collecting" | "done" | "failed";

export interface StepView {
  index: number;
  id: string;
  action: string;
  title: string;
  status: StepStatus;
  plan: string[];
  requires: {
    expression: string;
    description: string;
    eligible: Array<{ person: string; name: string; roles: Role[] }>;
  };
  prepared: {
    inputsHash: string;
    tbsHash: string | null;
    tbs: TbsView | null;
    checks: CheckView[];
    proposers: string[];
    inputs: string;
    shares: { purpose: string; threshold: number; holders: string[]; contributed: string[] } | null;
  } | null;
  approvals: Array<{ person: string; name: string; role: Role; time: string; keyId: string }>;
  rejections: Array<{ person: string | null; reason: string; detail: string; time: string }>;
  quorum: { satisfied: boolean; unmet: string[] };
  result: {
    outputs: Array<{ path: string; sha256: string }>;
    keyAttributes: KeyAttributesView[];
    checks: CheckView[];
    summary: string;
  } | null;
  /** the last failure of this step (refused preparation or failed execution) */
  failure: ErrorView | null;
  exceptions: ExceptionView[];
}

export interface ExceptionView {
  time: string;
  person: string;
  name: string;
  note: string;
  /** the transcript input that holds the witness-signed statement */
  input: string;
}

export interface TranscriptLineView {
  seq: number;
  time: string;
  person: string;
  role: string;
  action: string;
  step: string | null;
}

export interface CeremonyView {
  ceremonyId: string;
  title: string;
  scriptHash: string;
  bundleDir: string;
  participants: Array<{ id: string; name: string; roles: Role[]; present: boolean }>;
  steps: StepView[];
  phase: "running" | "finished" | "sealed";
  /** dynamic inputs the script takes ({input: name}) and whether they were supplied */
  inputs: Array<{ name: string; provided: { path: string; sha256: string; person: string } | null }>;
  final: {
    size: number;
    head: string;
    cosigned: Array<{ person: string; role: Role }>;
    needed: Array<{ person: string; name: string; role: Role }>;
  } | null;
  sealed: { dir: string; completed: boolean; head: string } | null;
  /** the newest transcript entries, newest last */
  transcript: TranscriptLineView[];
  transcriptSize: number;
}

export interface VerifyView {
  path: string;
  /** what the bundle was checked against besides itself (registry and ceremony-log key pins) */
  pins: { registryHash: string | null; logKeyId: string | null };
  ok: boolean;
  problem: string | null;
  ceremonyId: string | null;
  scriptHash: string | null;
  entries: number | null;
  head: string | null;
  completed: boolean | null;
  steps: Array<{ id: string; action: string; executed: boolean; approvedBy: string[]; tbsHash: string | null }>;
  checked: string[];
}

export interface ExportView {
  /** the directory the bundle was copied to */
  path: string;
  files: number;
  bytes: number;
  /** the copy verified again on the destination medium */
  verify: VerifyView;
}

export interface CertificateView {
  serial: string;
  profile: string;
  identifiers: string[];
  notBefore: string;
  notAfter: string;
  /** whole days from now until notAfter (negative when expired) */
  daysLeft: number;
  revoked: { at: string; reason: string } | null;
  /** what the OCSP responder answers for this serial */
  ocsp: "good" | "revoked" | "unknown";
}

export interface RevocationRequestView {
  id: string;
  serial: string;
  reason: string;
  requestedAt: string;
  requires: {
    expression: string;
    description: string;
    eligible: Array<{ person: string; name: string; roles: Role[] }>;
  };
  approvals: Array<{ person: string; name: string; role: Role; time: string }>;
  quorum: { satisfied: boolean; unmet: string[] };
  status: "collecting" | "revoked" | "cancelled";
}

export interface InventoryView {
  /** null when the console was started without an appliance store */
  source: { db: string; canRevoke: boolean; why: string | null } | null;
  now: string;
  subCa: {
    subject: string;
    issuer: string;
    notBefore: string;
    notAfter: string;
    daysLeft: number;
    sha256: string;
  } | null;
  crl: {
    number: number;
    thisUpdate: string;
    nextUpdate: string;
    entries: number;
    fresh: boolean;
  } | null;
  ocsp: { good: number; revoked: number; lifetimeSeconds: number | null };
  certificates: CertificateView[];
  revocations: RevocationRequestView[];
  reasons: string[];
}

export interface ConsoleState {
  mode: "electron" | "host";
  dataDir: string;
  registry: RegistryView;
  tokens: TokenView[];
  scripts: ScriptPackageView[];
  ceremony: CeremonyView | null;
  /** candidate export destinations (mounted removable media) */
  media: string[];
}
