// The ceremony session the console (and the CLI) drives: steps in script order, each prepared into
// exact inputs and TBS bytes, approved by signatures from participants' tokens, executed only when
// the quorum holds; every event goes to the hash-chained transcript; checkpoints signed by the HSM.
import { createHash, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { DEFAULT_LIBRARY, type HsmKey, type HsmToken, type PinSource, parsePkcs11Uri } from "../../hsm/index.js";
import { actionFor } from "../actions/index.js";
import {
  type ApprovalRequest,
  type RejectReason,
  type SignedApproval,
  type StepExpectation,
  screenApproval,
  screenApprovals,
} from "../approvals.js";
import { type DecodedTbs, decodeTbs } from "../decode.js";
import { CeremonyError, isCeremonyError } from "../errors.js";
import { canonicalJson, jcsHash, type JsonValue, sha256Hex } from "../jcs.js";
import { keyIdOf, verifySha256 } from "../keys.js";
import { describeQuorum, eligibleApprovers, evaluateQuorum } from "../quorum/evaluate.js";
import { formatQuorum } from "../quorum/grammar.js";
import { Registry } from "../registry.js";
import { type Role, ROLES } from "../roles.js";
import { checkScriptSignatures, type LoadedScript, loadScript, type Ref, type ScriptStep } from "../script.js";
import { ShareCollector, type ShareSet, ShareSetSchema } from "../shares.js";
import {
  CHECKPOINT_TYPE,
  type Checkpoint,
  type CheckpointBody,
  checkpointBytes,
  type TranscriptEntry,
  Transcript,
} from "./../transcript.js";
import { check } from "../actions/util.js";
import { BundleWriter } from "./bundle-writer.js";
import { type DryRunReport, parseDryRun } from "./dry-run-report.js";
import { renderReport } from "./report.js";
import type {
  ActionEnv,
  ApprovalView,
  CheckResult,
  ExecEnv,
  Executed,
  Prepared,
  RejectionView,
  ResolvedRef,
  SignEvent,
  StepStatus,
  StepView,
} from "./types.js";

export interface SessionOptions {
  /** the script (parsed JSON, untrusted) */
  script: unknown;
  /** the participant registry (parsed JSON, untrusted) */
  registry: unknown;
  /** author and reviewer signatures over the script and the dry-run report */
  scriptSignatures: unknown;
  /** the dry-run report the reviewers signed */
  dryRun: unknown;
  /** evidence bundle directory to create; must not exist */
  bundleDir: string;
  /** PKCS#11 library of the CA HSM; default SoftHSM2 */
  library?: string;
  /** bytes of the files the script pins (`{file, sha256}` refs), by bundle path */
  files?: Record<string, Buffer>;
  /** PIN share sets of quorum tokens initialised by earlier ceremonies, by script token name */
  pinShares?: Record<string, ShareSet>;
  /** PIN sources of operator tokens (the appliance's own token), by script token name */
  operatorPins?: Record<string, PinSource>;
  /** the engine clock (approval expiry, transcript times); default the system clock */
  clock?: () => Date;
  /** called immediately before every signature the engine asks an HSM for */
  onSign?: (e: SignEvent) => void;
}

export type SessionEvent =
  | { type: "step"; step: StepView }
  | { type: "transcript"; entry: TranscriptEntry }
  | { type: "checkpoint"; checkpoint: Checkpoint };

interface StepState {
  index: number;
  step: ScriptStep;
  status: StepStatus;
  prepared?: Prepared & { inputsHash: string; request: ApprovalRequest; decoded?: DecodedTbs };
  approvals: SignedApproval[];
  rejections: RejectionView[];
  collector?: ShareCollector;
  result?: Executed & { outputHashes: Array<{ path: string; sha256: string }> };
  error?: { kind: string; message: string };
}

export interface SealedBundle {
  dir: string;
  size: number;
  head: string;
  completed: boolean;
}

export class CeremonySession {
  readonly loaded: LoadedScript;
  readonly registry: Registry;
  readonly bundle: BundleWriter;
  private readonly transcriptLog: Transcript;
  private readonly states: StepState[];
  private readonly library: string;
  private readonly clock: () => Date;
  private readonly tokens = new Map<string, HsmToken>();
  private readonly pinSets = new Map<string, ShareSet>();
  private readonly stepOutputs = new Map<string, string>();
  private readonly provided = new Map<string, { path: string; sha256: string; proposer: string }>();
  private logKey: { token: string; label: string; keyId: string } | undefined;
  private readonly checkpoints: Checkpoint[] = [];
  private final: Checkpoint | undefined;
  private sealed = false;
  private readonly listeners = new Set<(e: SessionEvent) => void>();
  private armed: { stepId: string; tbsHash: string } | undefined;
  private busy = false;

  private constructor(
    private readonly opts: SessionOptions,
    loaded: LoadedScript,
    registry: Registry,
    bundle: BundleWriter,
  ) {
    this.loaded = loaded;
    this.registry = registry;
    this.bundle = bundle;
    this.library = opts.library ?? DEFAULT_LIBRARY;
    this.clock = opts.clock ?? (() => new Date());
    this.transcriptLog = new Transcript(loaded.script.ceremonyId, loaded.hash, (line) => bundle.appendTranscript(line));
    this.states = loaded.script.steps.map((step, index) => ({
      index,
      step,
      status: index === 0 ? "ready" : "waiting",
      approvals: [],
      rejections: [],
    }));
    for (const [name, set] of Object.entries(opts.pinShares ?? {})) this.pinSets.set(name, ShareSetSchema.parse(set));
    const decl = loaded.script.tokens[loaded.script.logToken]!;
    if (decl.logKey) this.logKey = { token: loaded.script.logToken, ...decl.logKey };
  }

  /**
   * Checks the registry, the script, its signatures and the dry run, then creates the bundle and
   * opens the transcript. Nothing touches an HSM yet.
   */
  static async open(opts: SessionOptions): Promise<CeremonySession> {
    const registry = Registry.parse(opts.registry);
    const loaded = loadScript(opts.script, registry);
    const dry = parseDryRun(opts.dryRun);
    if (dry.scriptHash !== loaded.hash)
      throw new CeremonyError("bad-script", "the dry-run report is for a different script");
    const dryRunHash = jcsHash(dry);
    const sigs = checkScriptSignatures(loaded, registry, opts.scriptSignatures, dryRunHash);
    for (const a of loaded.script.steps) {
      if (!actionFor(a))
        throw new CeremonyError("bad-script", `step ${a.id}: action ${a.action} is not available in this build`);
    }
    // files pinned by the script must be present and match before anything is written
    const files = fileRefs(loaded);
    for (const f of files) {
      const bytes = opts.files?.[f.file];
      if (!bytes) throw new CeremonyError("bad-script", `the script pins ${f.file}, which was not provided`);
      if (sha256Hex(bytes) !== f.sha256)
        throw new CeremonyError("bad-script", `${f.file} does not match the hash in the script`);
    }
    const bundle = new BundleWriter(opts.bundleDir);
    const s = new CeremonySession({ ...opts, dryRun: dry }, loaded, registry, bundle);
    const outputs: Record<string, string> = {
      "script.json": bundle.write("script.json", `${canonicalJson(loaded.script)}\n`),
      "registry.json": bundle.write("registry.json", `${canonicalJson(registry.document)}\n`),
      "script-signatures.json": bundle.write("script-signatures.json", `${canonicalJson(sigs)}\n`),
      "dry-run.json": bundle.write("dry-run.json", `${canonicalJson(dry)}\n`),
    };
    for (const f of files) outputs[f.file] = bundle.write(f.file, opts.files![f.file]!);
    s.append({
      action: "ceremony.open",
      step: null,
      inputs: {
        ceremonyId: loaded.script.ceremonyId,
        scriptHash: loaded.hash,
        registryHash: registry.hash,
        dryRunHash,
        signers: sigs.map((x) => `${x.statement.signer}:${x.statement.capacity}`),
      },
      outputs,
    });
    return s;
  }

  // ---- read side (what the console renders) ----

  get ceremonyId(): string {
    return this.loaded.script.ceremonyId;
  }

  get scriptHash(): string {
    return this.loaded.hash;
  }

  get dir(): string {
    return this.bundle.dir;
  }

  /** The engine clock (approvals are judged against it; approvers should date theirs by it). */
  now(): Date {
    return this.clock();
  }

  /** People in this ceremony with their roles here. */
  participants(): Array<{ id: string; name: string; roles: Role[]; keyId: string }> {
    const out = new Map<string, Role[]>();
    for (const r of ROLES) for (const id of this.loaded.assignment[r]) out.set(id, [...(out.get(id) ?? []), r]);
    return [...out].map(([id, roles]) => {
      const p = this.registry.require(id);
      return { id, name: p.name, roles, keyId: p.keyId };
    });
  }

  steps(): StepView[] {
    return this.states.map((s) => this.view(s));
  }

  step(id: string): StepView {
    return this.view(this.state(id));
  }

  /** The first step that is not done, if any. */
  current(): StepView | undefined {
    const s = this.states.find((x) => x.status !== "done");
    return s ? this.view(s) : undefined;
  }

  transcript(): readonly TranscriptEntry[] {
    return this.transcriptLog.entries;
  }

  checkpointList(): readonly Checkpoint[] {
    return this.checkpoints;
  }

  /** Subscribe to step changes, transcript entries and checkpoints; returns the unsubscribe function. */
  onEvent(listener: (e: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- write side ----

  /**
   * Resolves the step's inputs, runs the pre-signing checks and builds the exact bytes to be signed.
   * Afterwards the step collects approvals of `step(id).prepared.request`.
   */
  async prepare(stepId: string): Promise<StepView> {
    return this.exclusive(() => this.prepareNow(stepId));
  }

  private async prepareNow(stepId: string): Promise<StepView> {
    const st = this.state(stepId);
    this.requireOpen();
    if (st.status !== "ready")
      throw new CeremonyError("wrong-state", `step ${stepId} is ${st.status}; only the next step can be prepared`);
    const action = actionFor(st.step)!;
    let p: Prepared;
    let decoded: DecodedTbs | undefined;
    try {
      p = await action.prepare(st.step as never, this.env(st));
      decoded = p.tbs ? decodeTbs(p.tbs.kind, p.tbs.der) : undefined;
    } catch (e) {
      this.append({ action: "step.refused", step: stepId, inputs: { phase: "prepare", error: errorText(e) } });
      throw asCeremonyError(e);
    }
    const inputsHash = jcsHash(p.inputs);
    const tbsHash = p.tbs ? sha256Hex(p.tbs.der) : null;
    if (decoded) {
      const c = this.compareWithDryRun(stepId, decoded);
      if (c) {
        p.checks.push(c);
        if (!c.ok) {
          this.append({
            action: "step.refused",
            step: stepId,
            inputs: { phase: "prepare", error: `${c.name}: ${c.detail}` },
          });
          throw new CeremonyError("check-failed", `step ${stepId}: ${c.name}: ${c.detail}`);
        }
      }
    }
    const outputs: Record<string, string> = {};
    if (p.tbs) outputs[`tbs/${stepId}.der`] = this.bundle.write(`tbs/${stepId}.der`, p.tbs.der);
    st.prepared = {
      ...p,
      inputsHash,
      decoded,
      request: {
        ceremonyId: this.ceremonyId,
        scriptHash: this.scriptHash,
        stepId,
        action: st.step.action,
        inputsHash,
        tbsHash,
      },
    };
    if (p.shares) st.collector = new ShareCollector(p.shares);
    st.status = "collecting";
    this.append({
      action: "step.prepared",
      step: stepId,
      inputs: {
        inputs: p.inputs,
        inputsHash,
        tbsHash,
        tbsKind: p.tbs?.kind ?? null,
        proposers: p.proposers,
        checks: p.checks.map((c) => `${c.name}: ${c.detail}`),
        requires: formatQuorum(this.loaded.quorum.get(stepId)!),
        ...(p.shares ? { shareSet: jcsHash(p.shares), shareThreshold: p.shares.threshold } : {}),
      },
      outputs,
    });
    return this.emitStep(st);
  }

  /** What approvers of a prepared step sign (the console hands it to each participant's token). */
  approvalRequest(stepId: string): ApprovalRequest {
    const st = this.state(stepId);
    if (!st.prepared) throw new CeremonyError("wrong-state", `step ${stepId} is not prepared`);
    return st.prepared.request;
  }

  /** Screens and records one approval (untrusted input). Refusals are recorded too, never thrown. */
  submitApproval(
    stepId: string,
    raw: unknown,
  ): { accepted: true; step: StepView } | { accepted: false; reason: RejectReason; detail: string; step: StepView } {
    const st = this.state(stepId);
    this.requireOpen();
    if (st.status !== "collecting")
      throw new CeremonyError("wrong-state", `step ${stepId} is ${st.status}, not collecting approvals`);
    const r = screenApproval(
      raw,
      this.expectation(st),
      this.registry,
      this.loaded.assignment,
      this.clock(),
      st.approvals,
    );
    if (r.ok) {
      st.approvals.push(r.approval);
      const s = r.approval.statement;
      this.append({
        action: "approval.accepted",
        step: stepId,
        person: s.approver,
        role: s.role,
        inputs: { approval: jcsHash(r.approval), time: s.time, keyId: s.keyId },
      });
      return { accepted: true, step: this.emitStep(st) };
    }
    const claimed = r.approval?.statement.approver;
    st.rejections.push({ person: claimed, reason: r.reason, detail: r.detail, time: this.clock().toISOString() });
    this.append({
      action: "approval.rejected",
      step: stepId,
      inputs: {
        claimedApprover: claimed ?? null,
        reason: r.reason,
        detail: r.detail,
        approval: r.approval ? jcsHash(r.approval) : null,
      },
    });
    return { accepted: false, reason: r.reason, detail: r.detail, step: this.emitStep(st) };
  }

  /**
   * A share holder opens their share of the step's secret (PIN or KEK). `ecdh` must run on the
   * holder's own token (OfficerToken.ecdh); the share never exists outside this session's memory.
   */
  contributeShare(stepId: string, person: string, ecdh: (ephemeral: KeyObject) => Buffer): StepView {
    const st = this.state(stepId);
    this.requireOpen();
    if (st.status !== "collecting" || !st.collector)
      throw new CeremonyError("wrong-state", `step ${stepId} does not collect shares now`);
    const env = st.collector.envelopeFor(person);
    st.collector.contribute(person, ecdh);
    const role: Role = st.collector.set.purpose === "backup-kek" ? "custodian" : "officer";
    this.append({
      action: "share.contributed",
      step: stepId,
      person,
      role,
      inputs: {
        shareSet: jcsHash(st.collector.set),
        envelope: jcsHash(env),
        contributed: st.collector.contributors.length,
      },
    });
    return this.emitStep(st);
  }

  /** A participant supplies a document a step takes as `{input: name}`; they cannot approve that step. */
  provideInput(name: string, bytes: Buffer, person: string): { path: string; sha256: string } {
    this.requireOpen();
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new CeremonyError("bad-script", `input name "${name}" is invalid`);
    if (this.provided.has(name)) throw new CeremonyError("wrong-state", `input ${name} was already provided`);
    const role = ROLES.find((r) => this.loaded.assignment[r].includes(person));
    if (!role) throw new CeremonyError("wrong-state", `${person} takes no part in this ceremony`);
    const path = `inputs/provided/${name}`;
    const sha256 = this.bundle.write(path, bytes);
    this.provided.set(name, { path, sha256, proposer: person });
    this.append({ action: "input.provided", step: null, person, role, inputs: { name }, outputs: { [path]: sha256 } });
    return { path, sha256 };
  }

  /**
   * Runs a prepared step. Approvals are screened again now (expiry); without the quorum (or without
   * enough opened shares) nothing happens and the refusal is recorded. An HSM signature is only
   * requested for bytes whose SHA-256 equals what the quorum approved.
   */
  async execute(stepId: string): Promise<StepView> {
    return this.exclusive(() => this.executeNow(stepId));
  }

  private async executeNow(stepId: string): Promise<StepView> {
    const st = this.state(stepId);
    this.requireOpen();
    if (st.status !== "collecting" || !st.prepared)
      throw new CeremonyError("wrong-state", `step ${stepId} is ${st.status}; prepare it and collect approvals first`);
    const now = this.clock();
    const exp = this.expectation(st);
    const screened = screenApprovals(st.approvals, exp, this.registry, this.loaded.assignment, now);
    const expr = this.loaded.quorum.get(stepId)!;
    const q = evaluateQuorum(
      expr,
      this.loaded.assignment,
      screened.accepted.map((a) => ({ person: a.statement.approver, role: a.statement.role })),
    );
    if (!q.satisfied) {
      this.append({
        action: "step.refused",
        step: stepId,
        inputs: {
          phase: "quorum",
          requires: formatQuorum(expr),
          unmet: q.unmet,
          dropped: screened.rejected.map((r) => `${r.approval?.statement.approver ?? "?"}: ${r.reason}`),
        },
      });
      throw new CeremonyError("quorum-not-met", `step ${stepId}: ${q.unmet.join("; ")}`);
    }
    if (st.collector && !st.collector.ready) {
      this.append({
        action: "step.refused",
        step: stepId,
        inputs: { phase: "shares", contributed: st.collector.contributors, threshold: st.collector.threshold },
      });
      throw new CeremonyError(
        "secret-sharing",
        `step ${stepId}: ${st.collector.contributors.length} of ${st.collector.threshold} shares were opened`,
      );
    }
    const counted = screened.accepted.filter((a) => q.counted.some((c) => c.person === a.statement.approver));
    this.armed = st.prepared.tbs ? { stepId, tbsHash: st.prepared.request.tbsHash! } : undefined;
    let ex: Executed;
    try {
      ex = await actionFor(st.step)!.execute(st.step as never, st.prepared, this.execEnv(st));
    } catch (e) {
      st.status = "failed";
      const err = asCeremonyError(e);
      st.error = { kind: err.kind, message: err.message };
      this.append({ action: "step.failed", step: stepId, inputs: { error: errorText(e), kind: err.kind } });
      this.emitStep(st);
      throw err;
    } finally {
      this.armed = undefined;
      st.collector?.wipe();
    }
    const outputs: Record<string, string> = {};
    outputs[`approvals/${stepId}.json`] = this.bundle.write(`approvals/${stepId}.json`, `${canonicalJson(counted)}\n`);
    const outputHashes: Array<{ path: string; sha256: string }> = [];
    for (const o of ex.outputs) {
      const h = this.bundle.write(o.path, o.bytes);
      outputs[o.path] = h;
      outputHashes.push({ path: o.path, sha256: h });
    }
    const primary = ex.outputs[0]?.path;
    if (primary) this.stepOutputs.set(stepId, primary);
    st.result = { ...ex, outputHashes };
    st.status = "done";
    const next = this.states[st.index + 1];
    if (next) next.status = "ready";
    this.append({
      action: "step.executed",
      step: stepId,
      inputs: {
        inputsHash: st.prepared.inputsHash,
        tbsHash: st.prepared.request.tbsHash,
        approvals: counted.map((a) => ({ person: a.statement.approver, role: a.statement.role, approval: jcsHash(a) })),
        checks: ex.checks.map((c) => `${c.name}: ${c.detail}`),
        summary: ex.summary,
        primaryOutput: primary ?? null,
      },
      outputs,
      keyAttributes: ex.keyAttributes,
    });
    await this.checkpoint();
    return this.emitStep(st);
  }

  /**
   * Ends the ceremony: appends the closing entry and the final checkpoint signed by the ceremony-log
   * key. Witnesses and auditors then cosign `checkpointBytes(body)` with their tokens.
   */
  async finish(note = ""): Promise<CheckpointBody> {
    return this.exclusive(() => this.finishNow(note));
  }

  private async finishNow(note = ""): Promise<CheckpointBody> {
    if (this.final) return this.final.body;
    this.requireOpen();
    const done = this.states.filter((s) => s.status === "done").map((s) => s.step.id);
    const completed = done.length === this.states.length;
    this.append({
      action: "ceremony.closed",
      step: null,
      inputs: { completed, stepsDone: done, note },
    });
    const cp = await this.checkpoint();
    if (!cp)
      throw new CeremonyError("wrong-state", "the checkpoint token is not open: the transcript cannot be sealed");
    this.final = cp;
    return cp.body;
  }

  /** Adds a witness's or auditor's cosignature over the final checkpoint (checked here). */
  addCosignature(person: string, role: Role, signatureB64: string): void {
    if (!this.final) throw new CeremonyError("wrong-state", "finish the ceremony before cosigning");
    if (this.sealed) throw new CeremonyError("wrong-state", "the bundle is sealed");
    if (role !== "witness" && role !== "auditor")
      throw new CeremonyError("wrong-state", "only witnesses and auditors cosign");
    if (!this.loaded.assignment[role].includes(person))
      throw new CeremonyError("wrong-state", `${person} is not a ${role} of this ceremony`);
    if (this.final.cosignatures.some((c) => c.person === person))
      throw new CeremonyError("wrong-state", `${person} already cosigned`);
    const p = this.registry.require(person);
    if (!verifySha256(p.approvalKey, checkpointBytes(this.final.body), signatureB64))
      throw new CeremonyError("bad-approval", `${person}'s cosignature does not verify`);
    this.final.cosignatures.push({ person, role, signature: signatureB64 });
  }

  /** Writes the cosigned final checkpoint and the human report, and closes every token. */
  async seal(): Promise<SealedBundle> {
    return this.exclusive(() => this.sealNow());
  }

  private async sealNow(): Promise<SealedBundle> {
    if (!this.final) throw new CeremonyError("wrong-state", "finish the ceremony first");
    if (this.sealed) throw new CeremonyError("wrong-state", "already sealed");
    for (const role of ["witness", "auditor"] as const)
      for (const id of this.loaded.assignment[role])
        if (!this.final.cosignatures.some((c) => c.person === id))
          throw new CeremonyError("wrong-state", `${role} ${id} has not cosigned the final checkpoint`);
    this.bundle.write("checkpoints/final.json", `${canonicalJson(this.final)}\n`);
    this.bundle.write(
      "report.txt",
      renderReport({
        script: this.loaded.script,
        scriptHash: this.loaded.hash,
        registry: this.registry,
        transcript: this.transcriptLog.entries,
        final: this.final,
      }),
    );
    this.sealed = true;
    this.closeTokens();
    this.bundle.close();
    const completed = this.states.every((s) => s.status === "done");
    return { dir: this.bundle.dir, size: this.final.body.size, head: this.final.body.head, completed };
  }

  /** Closes tokens without sealing (an aborted session); the transcript stays on disk. */
  close(): void {
    this.closeTokens();
    this.bundle.close();
  }

  // ---- internals ----

  /** One engine operation at a time: a second click while a step runs is refused, not interleaved. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new CeremonyError("wrong-state", "another ceremony operation is still running");
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  private closeTokens(): void {
    for (const t of this.tokens.values()) t.close();
    this.tokens.clear();
  }

  private requireOpen(): void {
    if (this.sealed || this.final) throw new CeremonyError("wrong-state", "the ceremony is closed");
  }

  private state(id: string): StepState {
    const s = this.states.find((x) => x.step.id === id);
    if (!s) throw new CeremonyError("wrong-state", `no step ${id} in this script`);
    return s;
  }

  private expectation(st: StepState): StepExpectation {
    return {
      ...st.prepared!.request,
      proposers: st.prepared!.proposers,
      ttlSeconds: this.loaded.script.approvalTtlSeconds,
    };
  }

  private get admin(): string {
    return this.loaded.assignment.admin[0]!;
  }

  private append(
    e: { action: TranscriptEntry["action"]; step: string | null; inputs: Record<string, JsonValue> } & Partial<
      Pick<TranscriptEntry, "person" | "role" | "outputs" | "keyAttributes">
    >,
  ): TranscriptEntry {
    const entry = this.transcriptLog.append({
      time: this.clock().toISOString(),
      person: e.person ?? this.admin,
      role: e.role ?? "admin",
      ...e,
    });
    for (const l of this.listeners) l({ type: "transcript", entry });
    return entry;
  }

  private async checkpoint(): Promise<Checkpoint | undefined> {
    const lk = this.logKey;
    if (!lk) return undefined;
    const token = this.tokens.get(lk.token);
    if (!token) return undefined;
    const key = token.findKey(lk.label);
    if (keyIdOf(key.spki) !== lk.keyId) throw new CeremonyError("check-failed", "the ceremony-log key changed");
    const body: CheckpointBody = {
      type: CHECKPOINT_TYPE,
      ceremonyId: this.ceremonyId,
      size: this.transcriptLog.size,
      head: this.transcriptLog.head,
      time: this.clock().toISOString(),
    };
    const bytes = checkpointBytes(body);
    this.notify({
      kind: "checkpoint",
      stepId: null,
      token: token.label,
      keyLabel: key.label,
      sha256: sha256Hex(bytes),
    });
    const sig = await key.sign(bytes, "ecdsa-sha256");
    const cp: Checkpoint = {
      body,
      log: { label: lk.label, keyId: lk.keyId, signature: sig.toString("base64") },
      cosignatures: [],
    };
    this.checkpoints.push(cp);
    this.bundle.write(`checkpoints/${String(body.size).padStart(6, "0")}.json`, `${canonicalJson(cp)}\n`);
    for (const l of this.listeners) l({ type: "checkpoint", checkpoint: cp });
    return cp;
  }

  /**
   * The decoded TBS must show what reviewers saw in the dry run, apart from what differs by nature
   * (serial number, keys and key identifiers, the revoked serials of pre-existing certificates).
   */
  private compareWithDryRun(stepId: string, decoded: DecodedTbs): CheckResult | undefined {
    const dry = (this.opts.dryRun as DryRunReport).steps.find((x) => x.id === stepId);
    if (dry?.status !== "simulated" || !dry.tbs) return undefined;
    const VOLATILE = new Set(["Serial number", "Public key", "Subject key identifier", "Authority key identifier"]);
    const view = (lines: Array<{ label: string; value: string; critical?: boolean }>) =>
      lines
        .filter((l) => !VOLATILE.has(l.label))
        .map((l) => `${l.label}${l.critical ? " [critical]" : ""}: ${l.value}`);
    const want = view(dry.tbs.lines);
    const got = view(decoded.lines);
    const diff = got.find((l, i) => l !== want[i]) ?? (got.length !== want.length ? "(number of fields)" : undefined);
    return check(
      "matches the reviewed dry run",
      diff === undefined,
      diff === undefined
        ? `every field except serial and keys equals the dry run reviewers signed`
        : `differs from the dry run at "${diff}"`,
    );
  }

  private notify(e: SignEvent): void {
    this.opts.onSign?.(e);
  }

  private emitStep(st: StepState): StepView {
    const v = this.view(st);
    for (const l of this.listeners) l({ type: "step", step: v });
    return v;
  }

  private view(st: StepState): StepView {
    const expr = this.loaded.quorum.get(st.step.id)!;
    const a = this.loaded.assignment;
    const action = actionFor(st.step)!;
    const approvals: ApprovalView[] = st.approvals.map((x) => ({
      person: x.statement.approver,
      name: this.registry.get(x.statement.approver)?.name ?? x.statement.approver,
      role: x.statement.role,
      time: x.statement.time,
      keyId: x.statement.keyId,
      approval: x,
    }));
    const q = evaluateQuorum(
      expr,
      a,
      st.approvals.map((x) => ({ person: x.statement.approver, role: x.statement.role })),
    );
    const p = st.prepared;
    return {
      index: st.index,
      id: st.step.id,
      action: st.step.action,
      title: st.step.title ?? st.step.action,
      status: st.status,
      plan: p?.plan ?? action.plan(st.step as never),
      requires: {
        expression: formatQuorum(expr),
        description: describeQuorum(expr, a),
        eligible: eligibleApprovers(expr, a).map((e) => ({
          ...e,
          name: this.registry.get(e.person)?.name ?? e.person,
        })),
      },
      ...(p
        ? {
            prepared: {
              request: p.request,
              inputs: p.inputs,
              inputsHash: p.inputsHash,
              ...(p.decoded ? { tbs: p.decoded } : {}),
              checks: p.checks,
              proposers: p.proposers,
              ...(st.collector
                ? {
                    shares: {
                      purpose: st.collector.set.purpose,
                      threshold: st.collector.threshold,
                      holders: st.collector.holders,
                      contributed: st.collector.contributors,
                    },
                  }
                : {}),
            },
          }
        : {}),
      approvals,
      rejections: [...st.rejections],
      quorum: { satisfied: q.satisfied, unmet: q.unmet },
      ...(st.result
        ? {
            result: {
              outputs: st.result.outputHashes,
              keyAttributes: st.result.keyAttributes,
              checks: st.result.checks,
              summary: st.result.summary,
            },
          }
        : {}),
      ...(st.error ? { error: st.error } : {}),
    };
  }

  private env(st: StepState): ActionEnv {
    const self = this;
    return {
      ceremonyId: this.ceremonyId,
      stepId: st.step.id,
      script: this.loaded,
      registry: this.registry,
      library: this.library,
      now: () => self.clock(),
      token(name) {
        const t = self.tokens.get(name);
        if (!t) throw new CeremonyError("wrong-state", `token "${name}" is locked: its unlock step has not run`);
        return t;
      },
      hasToken: (name) => self.tokens.has(name),
      resolve: (ref) => self.resolve(ref),
      outputExists: (path) => self.bundle.exists(path),
      pinShares(name) {
        const s = self.pinSets.get(name);
        if (!s)
          throw new CeremonyError("secret-sharing", `no PIN share set for token "${name}" was given to the session`);
        return s;
      },
      operatorPin(name) {
        const p = self.opts.operatorPins?.[name];
        if (!p)
          throw new CeremonyError("wrong-state", `no PIN source for operator token "${name}" was given to the session`);
        return p;
      },
      assigned: (role) => [...self.loaded.assignment[role]],
    };
  }

  private execEnv(st: StepState): ExecEnv {
    const self = this;
    const stepId = st.step.id;
    return {
      ...this.env(st),
      shares: st.collector,
      // The quorum gate: the only way an action gets a TBS signed.
      async signTbs(key: HsmKey, der: Buffer, alg) {
        const armed = self.armed;
        if (!armed || armed.stepId !== stepId)
          throw new CeremonyError("wrong-state", `step ${stepId} has no quorum-approved bytes to sign`);
        const h = createHash("sha256").update(der).digest("hex");
        if (h !== armed.tbsHash)
          throw new CeremonyError(
            "tbs-mismatch",
            `step ${stepId}: rebuilt TBS ${h} differs from the approved ${armed.tbsHash}; nothing was signed`,
          );
        self.armed = undefined; // one signature per approval
        self.notify({ kind: "tbs", stepId, token: tokenOf(key), keyLabel: key.label, sha256: h });
        return key.sign(der, alg);
      },
      async signOther(kind, key, data) {
        self.notify({ kind, stepId, token: tokenOf(key), keyLabel: key.label, sha256: sha256Hex(data) });
        return key.sign(data);
      },
      adoptToken(name, token) {
        self.tokens.set(name, token);
      },
      adoptPinShares(name, sets) {
        self.pinSets.set(name, sets.user);
      },
      adoptLogKey(k) {
        if (k.token === self.loaded.script.logToken) self.logKey = k;
      },
    };
  }

  private resolve(ref: Ref): ResolvedRef {
    let path: string;
    let proposer: string | undefined;
    if ("step" in ref) {
      const p = this.stepOutputs.get(ref.step);
      if (!p) throw new CeremonyError("wrong-state", `step ${ref.step} has produced no output yet`);
      path = p;
    } else if ("file" in ref) {
      path = ref.file;
    } else {
      const p = this.provided.get(ref.input);
      if (!p) throw new CeremonyError("wrong-state", `input "${ref.input}" has not been provided`);
      path = p.path;
      proposer = p.proposer;
    }
    const bytes = readFileSync(this.bundle.path(path));
    return { bytes, path, sha256: sha256Hex(bytes), ...(proposer ? { proposer } : {}) };
  }
}

function fileRefs(loaded: LoadedScript): Array<{ file: string; sha256: string }> {
  const out = new Map<string, string>();
  for (const step of loaded.script.steps) {
    const p = step.params as Record<string, unknown>;
    const refs: Ref[] = [];
    for (const v of Object.values(p)) if (v && typeof v === "object" && !Array.isArray(v)) refs.push(v as Ref);
    if (step.action === "crl.issue") for (const r of step.params.revoked) refs.push(r.certificate);
    for (const r of refs) {
      if (!("file" in r) || !("sha256" in r)) continue;
      if (!r.file.startsWith("inputs/"))
        throw new CeremonyError("bad-script", `step ${step.id}: pinned files live under inputs/, not ${r.file}`);
      const had = out.get(r.file);
      if (had && had !== r.sha256) throw new CeremonyError("bad-script", `${r.file} is pinned with two hashes`);
      out.set(r.file, r.sha256);
    }
  }
  return [...out].map(([file, sha256]) => ({ file, sha256 }));
}

function tokenOf(key: HsmKey): string {
  return parsePkcs11Uri(key.uri).token ?? "";
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function asCeremonyError(e: unknown): CeremonyError {
  if (isCeremonyError(e)) return e;
  const kind = (e as { name?: string }).name === "HsmError" ? "hsm" : "check-failed";
  return new CeremonyError(kind, errorText(e), { cause: e });
}
