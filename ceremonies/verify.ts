// The offline verifier of an evidence bundle: registry proofs, script and its signatures, the
// transcript chain, HSM-signed and cosigned checkpoints, every file against the hash the transcript
// recorded, the quorum of every step, TBS binding and signatures of what was signed. Names the first
// thing wrong. Needs no HSM and no network.
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { parseBackup, RECOVERY_PROOF_TYPE } from "./actions/backup.js";
import { derOf, publicKeyPath } from "./actions/util.js";
import { SignedApprovalSchema, screenApprovals } from "./approvals.js";
import { decodeTbs, type TbsKind } from "./decode.js";
import { parseDryRun } from "./engine/dry-run-report.js";
import { renderReport } from "./engine/report.js";
import { type CeremonyError, isCeremonyError } from "./errors.js";
import { canonicalBytes, canonicalJson, jcsHash, sha256Hex } from "./jcs.js";
import { keyIdOf, verifySha256 } from "./keys.js";
import { evaluateQuorum } from "./quorum/evaluate.js";
import { parseCsr, splitSigned, verifySigned } from "./pkix.js";
import { derToPem, parseCertificate } from "../appliance/ca/index.js";
import { Registry } from "./registry.js";
import { checkScriptSignatures, type LoadedScript, loadScript, type Ref, type ScriptStep } from "./script.js";
import { ShareSetSchema } from "./shares.js";
import {
  type Checkpoint,
  CheckpointSchema,
  checkpointBytes,
  readTranscript,
  type TranscriptEntry,
} from "./transcript.js";

export interface VerifiedStep {
  id: string;
  action: string;
  executed: boolean;
  approvedBy: string[];
  tbsHash: string | null;
}

export interface VerifyReport {
  ok: boolean;
  /** the first thing wrong, when not ok */
  problem?: string;
  ceremonyId?: string;
  scriptHash?: string;
  registryHash?: string;
  entries?: number;
  head?: string;
  completed?: boolean;
  steps?: VerifiedStep[];
  /** what was checked, in order, for the auditor's record */
  checked: string[];
}

/** The files the engine writes itself and that the transcript therefore does not list. */
const STRUCTURAL = new Set([
  "script.json",
  "registry.json",
  "script-signatures.json",
  "dry-run.json",
  "transcript.jsonl",
  "report.txt",
]);

class Failure extends Error {}

function fail(msg: string): never {
  throw new Failure(msg);
}

/**
 * What the auditor knows independently of the bundle (from the bootstrap ceremony, kept off the
 * appliance): without pins, the registry and a freshly made checkpoint key vouch only for themselves.
 */
export interface VerifyPins {
  /** SHA-256 of the participant registry's canonical JSON */
  registryHash?: string;
  /** SHA-256 of the ceremony-log key's SPKI */
  logKeyId?: string;
}

/** Verifies a bundle directory; never throws for a bad bundle, it reports the first problem. */
export function verifyBundle(dir: string, pins: VerifyPins = {}): VerifyReport {
  const checked: string[] = [];
  const out: VerifyReport = { ok: false, checked };
  try {
    new BundleVerifier(resolve(dir), out, pins).run();
    out.ok = true;
  } catch (e) {
    if (e instanceof Failure) out.problem = e.message;
    else if (isCeremonyError(e)) out.problem = e.message;
    else out.problem = `verifier error: ${(e as Error).message}`;
  }
  return out;
}

class BundleVerifier {
  private registry!: Registry;
  private loaded!: LoadedScript;
  private entries!: TranscriptEntry[];
  /** bundle path -> [sha256, entry seq] from transcript outputs */
  private readonly recorded = new Map<string, { sha256: string; seq: number; step: string | null }>();
  private readonly stepOutput = new Map<string, string>();
  private readonly executed = new Map<string, TranscriptEntry>();
  private logKey: { label: string; keyId: string; key: KeyObject } | undefined;

  constructor(
    private readonly dir: string,
    private readonly out: VerifyReport,
    private readonly pins: VerifyPins,
  ) {}

  private note(s: string): void {
    this.out.checked.push(s);
  }

  private read(rel: string): Buffer {
    const p = join(this.dir, rel);
    if (!existsSync(p)) fail(`${rel} is missing`);
    return readFileSync(p);
  }

  private json(rel: string): unknown {
    try {
      return JSON.parse(this.read(rel).toString("utf8"));
    } catch (e) {
      if (e instanceof Failure) throw e;
      fail(`${rel} is not valid JSON`);
    }
  }

  private where(e: CeremonyError | Error, file: string): never {
    fail(`${file}: ${e.message}`);
  }

  run(): void {
    // 1. who takes part
    try {
      this.registry = Registry.parse(this.json("registry.json"));
    } catch (e) {
      if (e instanceof Failure) throw e;
      this.where(e as Error, "registry.json");
    }
    if (this.pins.registryHash && this.pins.registryHash !== this.registry.hash)
      fail(`registry.json is ${this.registry.hash}, not the pinned registry ${this.pins.registryHash}`);
    const pinned = this.pins.registryHash ? "pinned" : "NOT pinned: pass the bootstrap registry hash";
    this.note(
      `registry ${this.registry.hash} (${pinned}): ${this.registry.participants.length} participants, every enrollment proof valid`,
    );
    // 2. the script, its dry run and its signatures
    try {
      this.loaded = loadScript(this.json("script.json"), this.registry);
    } catch (e) {
      if (e instanceof Failure) throw e;
      this.where(e as Error, "script.json");
    }
    const s = this.loaded.script;
    this.out.ceremonyId = s.ceremonyId;
    this.out.scriptHash = this.loaded.hash;
    this.out.registryHash = this.registry.hash;
    let dryHash: string;
    try {
      const dry = parseDryRun(this.json("dry-run.json"));
      if (dry.scriptHash !== this.loaded.hash) fail("dry-run.json is for a different script");
      dryHash = jcsHash(dry);
      checkScriptSignatures(this.loaded, this.registry, this.json("script-signatures.json"), dryHash);
    } catch (e) {
      if (e instanceof Failure) throw e;
      this.where(e as Error, "script-signatures.json");
    }
    this.note(
      `script ${this.loaded.hash} signed by its author and ${s.reviewers.length} reviewer(s) over dry run ${dryHash}`,
    );
    // 3. the transcript chain
    try {
      this.entries = readTranscript(this.read("transcript.jsonl").toString("utf8"), s.ceremonyId, this.loaded.hash);
    } catch (e) {
      if (e instanceof Failure) throw e;
      this.where(e as Error, "transcript.jsonl");
    }
    if (this.entries.length === 0) fail("transcript.jsonl is empty");
    this.out.entries = this.entries.length;
    this.out.head = this.entries[this.entries.length - 1]!.hash;
    this.note(`transcript: ${this.entries.length} entries, hash chain intact`);
    const open = this.entries[0]!;
    if (open.action !== "ceremony.open") fail("transcript entry 0 is not ceremony.open");
    if (open.inputs.scriptHash !== this.loaded.hash || open.inputs.registryHash !== this.registry.hash)
      fail("transcript entry 0 names a different script or registry");
    if (open.inputs.dryRunHash !== dryHash) fail("transcript entry 0 names a different dry-run report");
    for (const e of this.entries) {
      for (const [path, sha256] of Object.entries(e.outputs)) {
        if (this.recorded.has(path)) fail(`transcript entry ${e.seq} writes ${path} a second time`);
        this.recorded.set(path, { sha256, seq: e.seq, step: e.step });
      }
    }
    // 4. the log key and the checkpoints
    this.findLogKey();
    this.checkCheckpoints();
    // 5. every file is accounted for and unchanged
    this.checkFiles();
    // 6. every step: order, quorum, outputs, signatures
    this.checkSteps();
    // 7. the report says what the evidence says
    const final = CheckpointSchema.parse(this.json("checkpoints/final.json"));
    const expected = renderReport({
      script: s,
      scriptHash: this.loaded.hash,
      registry: this.registry,
      transcript: this.entries,
      final,
    });
    if (this.read("report.txt").toString("utf8") !== expected) fail("report.txt does not match the evidence");
    this.note("report.txt matches the evidence");
  }

  private findLogKey(): void {
    const s = this.loaded.script;
    const decl = s.tokens[s.logToken]!;
    let label: string;
    let keyId: string;
    if (decl.logKey) {
      ({ label, keyId } = decl.logKey);
    } else {
      const init = s.steps.find((x) => x.action === "token.init" && x.params.token === s.logToken) as Extract<
        ScriptStep,
        { action: "token.init" }
      >;
      label = init.params.logKey;
      const e = this.entries.find((x) => x.action === "step.executed" && x.step === init.id);
      if (!e) fail(`the checkpoint key is made by step ${init.id}, which never executed`);
      keyId = String((e.inputs.summary as Record<string, unknown>).logKeyId);
    }
    const path = publicKeyPath(s.logToken, label);
    if (!this.recorded.has(path)) fail(`the transcript records no public key for the checkpoint key (${path})`);
    const key = createPublicKey(this.read(path));
    if (keyIdOf(key) !== keyId) fail(`${path} is not the checkpoint key ${keyId}`);
    if (this.pins.logKeyId && this.pins.logKeyId !== keyId)
      fail(`the checkpoint key ${keyId} is not the pinned ceremony-log key ${this.pins.logKeyId}`);
    this.logKey = { label, keyId, key };
  }

  private checkCheckpoints(): void {
    const cpDir = join(this.dir, "checkpoints");
    if (!existsSync(cpDir)) fail("checkpoints/ is missing");
    const files = readdirSync(cpDir).sort();
    if (!files.includes("final.json")) fail("checkpoints/final.json is missing: the ceremony was not sealed");
    for (const f of files) {
      const rel = `checkpoints/${f}`;
      const r = CheckpointSchema.safeParse(this.json(rel));
      if (!r.success) fail(`${rel}: ${z.prettifyError(r.error)}`);
      const cp: Checkpoint = r.data;
      const b = cp.body;
      if (b.ceremonyId !== this.loaded.script.ceremonyId) fail(`${rel} is for ceremony ${b.ceremonyId}`);
      if (f !== "final.json" && f !== `${String(b.size).padStart(6, "0")}.json`) fail(`${rel} has size ${b.size}`);
      const at = this.entries[b.size - 1];
      if (!at)
        fail(`${rel} covers ${b.size} entries but the transcript has ${this.entries.length}: entries were removed`);
      if (at.hash !== b.head)
        fail(`${rel} does not match transcript entry ${b.size - 1}: the transcript was rewritten`);
      if (cp.log.keyId !== this.logKey!.keyId || !verifySha256(this.logKey!.key, checkpointBytes(b), cp.log.signature))
        fail(`${rel}: the HSM checkpoint signature does not verify`);
      for (const c of cp.cosignatures) {
        const p = this.registry.get(c.person);
        if (!p || !this.loaded.assignment[c.role].includes(c.person))
          fail(`${rel}: cosigner ${c.person} is not a ${c.role} here`);
        if (!verifySha256(p.approvalKey, checkpointBytes(b), c.signature))
          fail(`${rel}: ${c.person}'s cosignature does not verify`);
      }
      if (f === "final.json") {
        if (b.size !== this.entries.length)
          fail(`the final checkpoint covers ${b.size} of ${this.entries.length} transcript entries`);
        if (this.entries[b.size - 1]!.action !== "ceremony.closed")
          fail("the final checkpoint does not end with ceremony.closed");
        for (const role of ["witness", "auditor"] as const)
          for (const id of this.loaded.assignment[role])
            if (!cp.cosignatures.some((c) => c.person === id && c.role === role))
              fail(`the final checkpoint lacks the cosignature of ${role} ${id}`);
        this.out.completed = (this.entries[b.size - 1]!.inputs.completed as boolean) === true;
      }
    }
    this.note(
      `checkpoints: ${files.length}, each signed by HSM key ${this.logKey!.label}; final one cosigned by witness and auditor`,
    );
  }

  private checkFiles(): void {
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory() ? walk(p) : [relative(this.dir, p).split(sep).join("/")];
      });
    const present = new Set(walk(this.dir));
    for (const [path, r] of this.recorded) {
      if (!present.has(path)) fail(`${path} is missing (written by transcript entry ${r.seq})`);
      if (sha256Hex(this.read(path)) !== r.sha256)
        fail(
          `${path} does not match the SHA-256 recorded in transcript entry ${r.seq}${r.step ? ` (step ${r.step})` : ""}: it was changed or swapped`,
        );
    }
    for (const p of present) {
      if (STRUCTURAL.has(p) || p.startsWith("checkpoints/")) continue;
      if (!this.recorded.has(p)) fail(`${p} is not recorded in the transcript`);
    }
    for (const p of ["script.json", "registry.json", "script-signatures.json", "dry-run.json"]) {
      const r = this.recorded.get(p);
      if (r?.seq !== 0) fail(`${p} is not recorded by transcript entry 0`);
    }
    this.note(`files: ${present.size}, each matching the hash the transcript recorded`);
  }

  private resolveRef(ref: Ref): { path: string; bytes: Buffer } {
    let path: string;
    if ("step" in ref) {
      const p = this.stepOutput.get(ref.step);
      if (!p) fail(`step ${ref.step} produced no output`);
      path = p;
    } else if ("file" in ref) path = ref.file;
    else path = `inputs/provided/${ref.input}`;
    return { path, bytes: this.read(path) };
  }

  private checkSteps(): void {
    const s = this.loaded.script;
    const steps: VerifiedStep[] = [];
    let lastIndex = -1;
    for (const e of this.entries) {
      if (e.step === null) continue;
      const idx = s.steps.findIndex((x) => x.id === e.step);
      if (idx < 0) fail(`transcript entry ${e.seq} names unknown step ${e.step}`);
      if (idx < lastIndex) fail(`transcript entry ${e.seq}: step ${e.step} runs after a later step`);
      if (e.action === "step.prepared") {
        if (idx !== lastIndex + 1) fail(`transcript entry ${e.seq}: step ${e.step} was prepared out of order`);
        lastIndex = idx;
      }
    }
    for (const step of s.steps) {
      const prep = this.entries.find((e) => e.step === step.id && e.action === "step.prepared");
      const exe = this.entries.find((e) => e.step === step.id && e.action === "step.executed");
      if (!exe) {
        steps.push({ id: step.id, action: step.action, executed: false, approvedBy: [], tbsHash: null });
        continue;
      }
      if (!prep || prep.seq > exe.seq) fail(`step ${step.id} executed without being prepared first`);
      if (this.entries.filter((e) => e.step === step.id && e.action === "step.executed").length > 1)
        fail(`step ${step.id} executed twice`);
      this.executed.set(step.id, exe);
      const approved = this.checkQuorum(step, prep, exe);
      const primary = exe.inputs.primaryOutput;
      if (typeof primary === "string") {
        if (!exe.outputs[primary]) fail(`step ${step.id}: its primary output ${primary} is not among its outputs`);
        this.stepOutput.set(step.id, primary);
      }
      this.checkAction(step, prep, exe);
      steps.push({
        id: step.id,
        action: step.action,
        executed: true,
        approvedBy: approved,
        tbsHash: (prep.inputs.tbsHash as string | null) ?? null,
      });
    }
    this.out.steps = steps;
    this.note(
      `steps: ${steps.filter((x) => x.executed).length} of ${steps.length} executed, each with its quorum of valid approvals`,
    );
  }

  private checkQuorum(step: ScriptStep, prep: TranscriptEntry, exe: TranscriptEntry): string[] {
    const inputsHash = prep.inputs.inputsHash as string;
    if (jcsHash(prep.inputs.inputs) !== inputsHash) fail(`step ${step.id}: recorded inputs do not hash to inputsHash`);
    if (exe.inputs.inputsHash !== inputsHash || exe.inputs.tbsHash !== prep.inputs.tbsHash)
      fail(`step ${step.id}: executed something other than what was prepared`);
    const rel = `approvals/${step.id}.json`;
    if (!exe.outputs[rel]) fail(`step ${step.id}: the transcript records no approvals file`);
    const parsed = z.array(z.unknown()).safeParse(this.json(rel));
    if (!parsed.success) fail(`${rel} is not a list`);
    for (const [i, a] of parsed.data.entries())
      if (!SignedApprovalSchema.safeParse(a).success) fail(`${rel}: approval ${i} is malformed`);
    const screened = screenApprovals(
      parsed.data,
      {
        ceremonyId: this.loaded.script.ceremonyId,
        scriptHash: this.loaded.hash,
        stepId: step.id,
        action: step.action,
        inputsHash,
        tbsHash: (prep.inputs.tbsHash as string | null) ?? null,
        proposers: prep.inputs.proposers as string[],
        ttlSeconds: this.loaded.script.approvalTtlSeconds,
      },
      this.registry,
      this.loaded.assignment,
      new Date(exe.time),
    );
    if (screened.rejected.length) {
      const r = screened.rejected[0]!;
      fail(`${rel}: approval by ${r.approval?.statement.approver ?? "?"} is invalid (${r.reason}: ${r.detail})`);
    }
    const q = evaluateQuorum(
      this.loaded.quorum.get(step.id)!,
      this.loaded.assignment,
      screened.accepted.map((a) => ({ person: a.statement.approver, role: a.statement.role })),
    );
    if (!q.satisfied) fail(`step ${step.id}: the approvals do not meet "${step.requires}": ${q.unmet.join("; ")}`);
    const listed = (exe.inputs.approvals as Array<{ person: string; approval: string }>).map(
      (a) => `${a.person}:${a.approval}`,
    );
    const actual = screened.accepted.map((a) => `${a.statement.approver}:${jcsHash(a)}`);
    if (canonicalJson(listed) !== canonicalJson(actual))
      fail(`step ${step.id}: ${rel} differs from the approvals the transcript lists`);
    return screened.accepted.map((a) => `${a.statement.approver} (${a.statement.role})`);
  }

  /** The approved TBS bytes of a signing step, checked against the hash the quorum signed. */
  private approvedTbs(step: ScriptStep, prep: TranscriptEntry): Buffer {
    const rel = `tbs/${step.id}.der`;
    const tbs = this.read(rel);
    if (sha256Hex(tbs) !== prep.inputs.tbsHash) fail(`${rel} is not the TBS the quorum approved`);
    return tbs;
  }

  /** A signed artifact: its TBS must be byte-equal to the approved one and its signature must verify. */
  private checkSigned(
    step: ScriptStep,
    prep: TranscriptEntry,
    path: string,
    label: string,
    kind: TbsKind,
    signer: KeyObject,
  ) {
    const der = derOf(this.read(path), label);
    const tbs = this.approvedTbs(step, prep);
    let parts: ReturnType<typeof splitSigned>;
    try {
      parts = splitSigned(der);
    } catch (e) {
      fail(`${path}: ${(e as Error).message}`);
    }
    if (!parts.tbs.equals(tbs))
      fail(`${path}: its to-be-signed part is not the TBS the quorum approved (step ${step.id})`);
    if (!verifySigned(der, signer)) fail(`${path}: the signature does not verify with the issuer's key`);
    return { der, decoded: decodeTbs(kind, tbs) };
  }

  private keyFile(token: string, label: string): KeyObject {
    const path = publicKeyPath(token, label);
    if (!this.recorded.has(path)) fail(`no public key of ${token}/${label} is recorded in the bundle`);
    return createPublicKey(this.read(path));
  }

  private checkAction(step: ScriptStep, prep: TranscriptEntry, exe: TranscriptEntry): void {
    const summary = exe.inputs.summary as Record<string, unknown>;
    switch (step.action) {
      case "token.init": {
        const set = ShareSetSchema.parse(this.json(`tokens/${step.params.token}.pin-shares.json`));
        if (set.threshold !== step.params.threshold)
          fail(`step ${step.id}: the PIN is split with threshold ${set.threshold}`);
        if (canonicalJson(set.shares.map((x) => x.recipient)) !== canonicalJson(this.loaded.assignment.officer))
          fail(`step ${step.id}: the PIN shares are not held by exactly the ceremony's officers`);
        const a = exe.keyAttributes[0];
        if (!a?.neverExtractable || a.extractable) fail(`step ${step.id}: the checkpoint key is not never-extractable`);
        break;
      }
      case "token.unlock": {
        const contributors = (summary.contributors as string[]) ?? [];
        const threshold = prep.inputs.inputs && (prep.inputs.inputs as Record<string, unknown>).threshold;
        if (typeof threshold === "number" && new Set(contributors).size < threshold)
          fail(`step ${step.id}: ${contributors.length} share holders took part, the PIN needs ${threshold}`);
        for (const c of contributors)
          if (
            !this.entries.some(
              (e) => e.step === step.id && e.action === "share.contributed" && e.person === c && e.seq < exe.seq,
            )
          )
            fail(`step ${step.id}: ${c} is named as contributor but no share.contributed entry records it`);
        break;
      }
      case "key.generate": {
        const a = exe.keyAttributes[0];
        if (!a || a.label !== step.params.label || a.keyType !== step.params.spec)
          fail(`step ${step.id}: recorded key attributes are not those of ${step.params.label} (${step.params.spec})`);
        const wrap = step.params.backup === "wrap";
        if (!a.sensitive || !a.alwaysSensitive || !a.local)
          fail(`step ${step.id}: key was not generated sensitive in the HSM`);
        if (wrap ? !a.extractable : a.extractable || !a.neverExtractable)
          fail(`step ${step.id}: key extractability does not match the script's backup choice "${step.params.backup}"`);
        const key = this.keyFile(step.params.token, step.params.label);
        if (keyIdOf(key) !== summary.spkiSha256) fail(`step ${step.id}: the public key file is not the generated key`);
        break;
      }
      case "csr.create": {
        const key = this.keyFile(step.params.token, step.params.key);
        const { decoded } = this.checkSigned(step, prep, step.params.output, "CERTIFICATE REQUEST", "csr", key);
        if (decoded.facts.spki?.sha256 !== keyIdOf(key)) fail(`${step.params.output} carries another key`);
        break;
      }
      case "backup.wrap": {
        const b = parseBackup(this.read(step.params.output));
        const key = this.keyFile(step.params.token, step.params.key);
        if (keyIdOf(Buffer.from(b.key.spki, "base64")) !== keyIdOf(key))
          fail(`${step.params.output} backs up another key`);
        if (b.kekShares.threshold !== step.params.threshold)
          fail(`${step.params.output}: KEK threshold differs from the script`);
        if (
          canonicalJson(b.kekShares.shares.map((x) => x.recipient)) !== canonicalJson(this.loaded.assignment.custodian)
        )
          fail(`${step.params.output}: KEK shares are not held by exactly the ceremony's custodians`);
        break;
      }
      case "backup.recover": {
        const b = parseBackup(this.resolveRef(step.params.backup).bytes);
        const proof = z
          .strictObject({ statement: z.record(z.string(), z.unknown()), algorithm: z.string(), signature: z.string() })
          .parse(this.json(step.params.output));
        if (proof.statement.type !== RECOVERY_PROOF_TYPE) fail(`${step.params.output} is not a recovery proof`);
        const original = createPublicKey({ key: Buffer.from(b.key.spki, "base64"), format: "der", type: "spki" });
        const hash = proof.algorithm.slice(proof.algorithm.lastIndexOf("-") + 1);
        if (!verify(hash, canonicalBytes(proof.statement), original, Buffer.from(proof.signature, "base64")))
          fail(`${step.params.output}: the recovered key's signature does not verify with the original public key`);
        break;
      }
      case "cert.root": {
        const key = this.keyFile(step.params.token, step.params.key);
        const { decoded } = this.checkSigned(step, prep, step.params.output, "CERTIFICATE", "certificate", key);
        const f = decoded.facts;
        if (f.spki?.sha256 !== keyIdOf(key)) fail(`${step.params.output} does not certify the generated root key`);
        if (!f.isCa || f.extendedKeyUsage || f.subject !== f.issuer)
          fail(`${step.params.output} is not a self-signed root without EKU`);
        break;
      }
      case "cert.subca":
      case "cert.cross": {
        const issuer = this.certOf(step.params.issuerCertificate, "issuer certificate");
        const { decoded } = this.checkSigned(step, prep, step.params.output, "CERTIFICATE", "certificate", issuer.key);
        const f = decoded.facts;
        if (f.issuer !== issuer.facts.subject)
          fail(`${step.params.output} names issuer ${f.issuer}, not ${issuer.facts.subject}`);
        if (!issuer.facts.isCa) fail(`the issuer of ${step.params.output} is not a CA`);
        if (step.action === "cert.subca") {
          const csr = parseCsr(derOf(this.resolveRef(step.params.request).bytes, "CERTIFICATE REQUEST"));
          if (f.spki?.sha256 !== keyIdOf(csr.spki)) fail(`${step.params.output} does not carry the key of the request`);
          if (f.pathLen !== 0 || !f.nameConstraintsCritical)
            fail(`${step.params.output} is not a constrained SubCA (pathLen 0, name constraints)`);
        } else {
          const subject = this.certOf(step.params.subjectCertificate, "cross-signed certificate");
          if (f.spki?.sha256 !== subject.facts.spki?.sha256 || f.subject !== subject.facts.subject)
            fail(`${step.params.output} does not cross-certify ${subject.facts.subject}`);
        }
        break;
      }
      case "crl.issue": {
        const issuer = this.certOf(step.params.issuerCertificate, "issuer certificate");
        const { decoded } = this.checkSigned(step, prep, step.params.output, "X509 CRL", "crl", issuer.key);
        if (decoded.facts.crlNumber !== String(step.params.number))
          fail(`${step.params.output} has CRL number ${decoded.facts.crlNumber}`);
        const want = step.params.revoked
          .map((r) => this.certOf(r.certificate, "revoked certificate").facts.serial)
          .sort();
        const got = (decoded.facts.revoked ?? []).map((r) => r.serial).sort();
        if (canonicalJson(want) !== canonicalJson(got))
          fail(`${step.params.output} does not revoke exactly the certificates the script names`);
        break;
      }
      case "cert.import": {
        const cert = this.certOf(step.params.certificate, "certificate");
        const issuer = this.certOf(step.params.issuerCertificate, "issuer certificate");
        if (!verifySigned(cert.der, issuer.key))
          fail(`step ${step.id}: the imported certificate is not signed by its issuer`);
        if (cert.facts.spki?.sha256 !== summary.spkiSha256)
          fail(`step ${step.id}: the certificate does not carry the appliance key`);
        const chain = this.read(step.params.output).toString("latin1");
        if (!chain.includes(derToPem(cert.der)) || !chain.includes(derToPem(issuer.der)))
          fail(`${step.params.output} is not the certificate followed by its issuer`);
        break;
      }
      default:
        break;
    }
  }

  private certOf(ref: Ref, what: string) {
    const { path, bytes } = this.resolveRef(ref);
    try {
      const der = derOf(bytes, "CERTIFICATE");
      const parts = splitSigned(der);
      const facts = decodeTbs("certificate", parts.tbs).facts;
      const key = createPublicKey({ key: Buffer.from(parseCertificate(der).spki), format: "der", type: "spki" });
      return { der, facts, key };
    } catch (e) {
      fail(`${what} ${path} does not parse: ${(e as Error).message}`);
    }
  }
}
