// The ceremony the console runs: one CeremonySession at a time, driven step by step; approvals,
// shares and cosignatures are made on each participant's own token in this process; a witness can
// record a signed exception for a failed step; the sealed bundle is exported and verified again.
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import {
  CeremonySession,
  type CheckpointBody,
  canonicalBytes,
  checkpointBytes,
  isCeremonyError,
  jcsHash,
  type Registry,
  type SealedBundle,
  type VerifyPins,
  verifyBundle,
} from "../../ceremonies/index.js";
import type { PinSource } from "../../hsm/index.js";
import type { ApprovalOutcome, Args } from "../common/channels.js";
import type { CeremonyView, ErrorView, ExceptionView, ExportView, Role, VerifyView } from "../common/views.js";
import { ConsoleError, toErrorView } from "./errors.js";
import type { ConsoleLog } from "./log.js";
import type { Participants } from "./participants.js";
import type { LoadedPackage } from "./scripts.js";
import { withOfficer } from "./tokens.js";
import { stepView } from "./views.js";

export const EXCEPTION_TYPE = "plantroot/ceremony-exception/v1";

export interface CeremonyDeps {
  library: string;
  participants: Participants;
  log: ConsoleLog;
  now: () => Date;
  /** PIN sources of operator tokens (the appliance's own token), by token label */
  operatorPins: Record<string, PinSource>;
}

export class CeremonyRun {
  private readonly failures = new Map<string, ErrorView>();
  private readonly exceptions: Array<ExceptionView & { stepId: string }> = [];
  private readonly provided = new Map<string, { path: string; sha256: string; person: string }>();
  private final: CheckpointBody | undefined;
  private sealedBundle: SealedBundle | undefined;

  private constructor(
    readonly session: CeremonySession,
    private readonly registry: Registry,
    private readonly d: CeremonyDeps,
  ) {}

  static async start(
    pkg: LoadedPackage,
    registry: Registry,
    bundlesDir: string,
    d: CeremonyDeps,
  ): Promise<CeremonyRun> {
    const s = pkg.loaded.script;
    const operatorPins: Record<string, PinSource> = {};
    for (const [name, decl] of Object.entries(s.tokens)) {
      if (decl.access !== "operator") continue;
      const pin = d.operatorPins[decl.label];
      if (!pin)
        throw new ConsoleError(
          "unavailable",
          `the script uses the operator token "${decl.label}", but the console was started without its PIN source (--operator-pin ${decl.label}=file:/path)`,
        );
      operatorPins[name] = pin;
    }
    const stamp = d
      .now()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const session = await CeremonySession.open({
      script: pkg.raw,
      registry: registry.document,
      scriptSignatures: pkg.signatures,
      dryRun: pkg.dry,
      bundleDir: join(bundlesDir, `${s.ceremonyId}-${stamp}`),
      library: d.library,
      files: pkg.files,
      pinShares: pkg.pinShares,
      operatorPins,
      clock: d.now,
    });
    d.log.append({
      event: "ceremony.started",
      ceremonyId: s.ceremonyId,
      scriptHash: pkg.loaded.hash,
      bundle: session.dir,
    });
    return new CeremonyRun(session, registry, d);
  }

  private assigned(person: string, role: Role): boolean {
    return this.session.loaded.assignment[role].includes(person);
  }

  private requireRunning(): void {
    if (this.final) throw new ConsoleError("not-allowed", "the ceremony was closed; only cosigning and sealing remain");
  }

  async prepare(stepId: string): Promise<CeremonyView> {
    this.requireRunning();
    try {
      await this.session.prepare(stepId);
      this.failures.delete(stepId);
    } catch (e) {
      // a refused preparation (a check failed, an input is missing) is a failure the witness may record
      if (isCeremonyError(e) && e.kind !== "wrong-state") this.failures.set(stepId, toErrorView(e));
      throw e;
    }
    return this.view();
  }

  async approve(a: Args["approveStep"]): Promise<ApprovalOutcome> {
    this.requireRunning();
    this.d.participants.requirePresent(a.person);
    const req = this.session.approvalRequest(a.stepId);
    const approval = await withOfficer(this.d.library, this.registry, a.person, a.tokenLabel, a.pin, (o) =>
      o.approve(req, a.role, this.d.now()),
    );
    const r = this.session.submitApproval(a.stepId, approval);
    if (r.accepted) return { accepted: true, ceremony: this.view() };
    return { accepted: false, reason: r.reason, detail: r.detail, ceremony: this.view() };
  }

  async openShare(a: Args["openShare"]): Promise<CeremonyView> {
    this.requireRunning();
    this.d.participants.requirePresent(a.person);
    await withOfficer(this.d.library, this.registry, a.person, a.tokenLabel, a.pin, (o) =>
      this.session.contributeShare(a.stepId, a.person, o.ecdh),
    );
    return this.view();
  }

  provideInput(a: Args["provideInput"]): CeremonyView {
    this.requireRunning();
    this.d.participants.requirePresent(a.person);
    if (!this.inputNames().includes(a.name))
      throw new ConsoleError("not-found", `the script takes no input "${a.name}"`);
    let bytes: Buffer;
    try {
      if (!statSync(a.path).isFile()) throw new Error("not a file");
      bytes = readFileSync(a.path);
    } catch (e) {
      throw new ConsoleError("io", `cannot read ${a.path}: ${(e as Error).message}`);
    }
    const r = this.session.provideInput(a.name, bytes, a.person);
    this.provided.set(a.name, { ...r, person: a.person });
    return this.view();
  }

  async execute(stepId: string): Promise<CeremonyView> {
    this.requireRunning();
    try {
      await this.session.execute(stepId);
    } catch (e) {
      if (this.session.step(stepId).status === "failed") this.failures.set(stepId, toErrorView(e));
      throw e;
    }
    return this.view();
  }

  /**
   * A witness records an exception for a failed step: a statement naming the step, the failure and
   * the witness's note, signed on the witness's token, goes into the hash-chained transcript.
   */
  async recordException(a: Args["recordException"]): Promise<CeremonyView> {
    this.requireRunning();
    if (!this.assigned(a.person, "witness"))
      throw new ConsoleError("not-allowed", `${a.person} is not a witness of this ceremony`);
    this.d.participants.requirePresent(a.person);
    const step = this.session.step(a.stepId);
    const failure = step.error ?? this.failures.get(a.stepId);
    if (!failure)
      throw new ConsoleError("not-allowed", `step ${a.stepId} has not failed: there is no exception to record`);
    const statement = {
      type: EXCEPTION_TYPE,
      ceremonyId: this.session.ceremonyId,
      scriptHash: this.session.scriptHash,
      stepId: a.stepId,
      failure: { kind: failure.kind, message: failure.message },
      note: a.note,
      witness: a.person,
      time: this.d.now().toISOString(),
    };
    const signature = await withOfficer(this.d.library, this.registry, a.person, a.tokenLabel, a.pin, (o) =>
      o.sign(canonicalBytes(statement)),
    );
    const name = `exception-${this.exceptions.length + 1}`;
    const doc = { statement, signature: signature.toString("base64") };
    this.session.provideInput(name, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), a.person);
    this.exceptions.push({
      stepId: a.stepId,
      time: statement.time,
      person: a.person,
      name: this.registry.get(a.person)?.name ?? a.person,
      note: a.note,
      input: `inputs/provided/${name}`,
    });
    this.d.log.append({
      event: "ceremony.exception",
      ceremonyId: this.session.ceremonyId,
      step: a.stepId,
      person: a.person,
      statement: jcsHash(statement),
    });
    return this.view();
  }

  async finish(note: string): Promise<CeremonyView> {
    if (!this.final) this.final = await this.session.finish(note);
    return this.view();
  }

  async cosign(a: Args["cosign"]): Promise<CeremonyView> {
    if (!this.final) throw new ConsoleError("not-allowed", "close the ceremony before cosigning its final checkpoint");
    if (!this.assigned(a.person, a.role))
      throw new ConsoleError("not-allowed", `${a.person} is not a ${a.role} of this ceremony`);
    this.d.participants.requirePresent(a.person);
    const body = this.final;
    const sig = await withOfficer(this.d.library, this.registry, a.person, a.tokenLabel, a.pin, (o) =>
      o.sign(checkpointBytes(body)),
    );
    this.session.addCosignature(a.person, a.role, sig.toString("base64"));
    return this.view();
  }

  async seal(): Promise<CeremonyView> {
    if (this.sealedBundle) return this.view();
    this.sealedBundle = await this.session.seal();
    this.d.log.append({
      event: "ceremony.sealed",
      ceremonyId: this.session.ceremonyId,
      bundle: this.sealedBundle.dir,
      head: this.sealedBundle.head,
      completed: this.sealedBundle.completed,
    });
    return this.view();
  }

  get sealed(): boolean {
    return this.sealedBundle !== undefined;
  }

  /** Closes tokens of an unsealed session (the transcript stays on disk). */
  abort(): void {
    if (!this.sealedBundle) this.session.close();
  }

  /** Copies the sealed bundle to `destination` (removable media) and verifies the copy there. */
  exportTo(destination: string): ExportView {
    if (!this.sealedBundle) throw new ConsoleError("not-allowed", "seal the ceremony before exporting its evidence");
    // the copy is checked against this console's registry, not only against itself
    return exportBundle(this.sealedBundle.dir, destination, this.d.log, { registryHash: this.registry.hash });
  }

  private inputNames(): string[] {
    return inputNamesOf(this.session.loaded.script.steps.map((s) => s.params));
  }

  view(): CeremonyView {
    const s = this.session;
    const a = s.loaded.assignment;
    const entries = s.transcript();
    const final = this.final;
    return {
      ceremonyId: s.ceremonyId,
      title: s.loaded.script.title,
      scriptHash: s.scriptHash,
      bundleDir: s.dir,
      participants: s.participants().map((p) => ({
        id: p.id,
        name: p.name,
        roles: [...p.roles],
        present: this.d.participants.isPresent(p.id),
      })),
      steps: s.steps().map((st) =>
        stepView(
          st,
          this.failures.get(st.id),
          this.exceptions.filter((x) => x.stepId === st.id).map(({ stepId: _, ...x }) => x),
        ),
      ),
      phase: this.sealedBundle ? "sealed" : final ? "finished" : "running",
      inputs: this.inputNames().map((name) => ({ name, provided: this.provided.get(name) ?? null })),
      final: final
        ? {
            size: final.size,
            head: final.head,
            cosigned: this.cosignatures(),
            needed: (["witness", "auditor"] as const).flatMap((role) =>
              a[role].map((person) => ({ person, name: this.registry.get(person)?.name ?? person, role })),
            ),
          }
        : null,
      sealed: this.sealedBundle
        ? { dir: this.sealedBundle.dir, completed: this.sealedBundle.completed, head: this.sealedBundle.head }
        : null,
      transcript: entries.slice(-12).map((e) => ({
        seq: e.seq,
        time: e.time,
        person: e.person,
        role: e.role,
        action: e.action,
        step: e.step,
      })),
      transcriptSize: entries.length,
    };
  }

  private cosignatures(): Array<{ person: string; role: Role }> {
    // the engine keeps cosignatures on the final checkpoint object it returned from finish()
    const last = this.session.checkpointList().at(-1);
    return (last?.cosignatures ?? []).map((c) => ({ person: c.person, role: c.role as Role }));
  }
}

/** Copies a bundle into a new directory under `destination` and verifies the copy. */
export function exportBundle(
  bundleDir: string,
  destination: string,
  log: ConsoleLog,
  pins: VerifyPins = {},
): ExportView {
  const dest = resolve(destination);
  if (!existsSync(dest) || !statSync(dest).isDirectory())
    throw new ConsoleError("not-found", `${dest} is not a directory (is the medium mounted?)`);
  const target = join(dest, basename(bundleDir));
  if (existsSync(target)) throw new ConsoleError("not-allowed", `${target} already exists; nothing was overwritten`);
  try {
    cpSync(bundleDir, target, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true });
  } catch (e) {
    throw new ConsoleError(
      "io",
      `copying to ${target} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else {
        files++;
        bytes += st.size;
      }
    }
  };
  walk(target);
  const verify = verifyView(target, pins);
  log.append({ event: "bundle.exported", from: bundleDir, to: target, files, bytes, verified: verify.ok });
  return { path: target, files, bytes, verify };
}

/** Names of documents supplied during the ceremony: every `{input: name}` reference in the steps' params. */
export function inputNamesOf(params: unknown[]): string[] {
  const names = new Set<string>();
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (Object.keys(o).length === 1 && typeof o.input === "string") names.add(o.input);
      else Object.values(o).forEach(walk);
    }
  };
  params.forEach(walk);
  return [...names];
}

export function verifyView(path: string, pins: VerifyPins = {}): VerifyView {
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isDirectory())
    throw new ConsoleError("not-found", `${abs} is not a directory`);
  const r = verifyBundle(abs, pins);
  return {
    path: abs,
    pins: { registryHash: pins.registryHash ?? null, logKeyId: pins.logKeyId ?? null },
    ok: r.ok,
    problem: r.problem ?? null,
    ceremonyId: r.ceremonyId ?? null,
    scriptHash: r.scriptHash ?? null,
    entries: r.entries ?? null,
    head: r.head ?? null,
    completed: r.completed ?? null,
    steps: (r.steps ?? []).map((s) => ({ ...s, approvedBy: [...s.approvedBy] })),
    checked: [...r.checked],
  };
}
