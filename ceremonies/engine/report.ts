// The human-readable ceremony report (report.txt): participants, every step with what was approved,
// by whom, what was produced and what the HSM said about the keys; rebuilt from the evidence alone,
// so the offline verifier can regenerate it and compare.
import type { Registry } from "../registry.js";
import { ROLE_TITLES, ROLES } from "../roles.js";
import type { CeremonyScript } from "../script.js";
import type { Checkpoint, TranscriptEntry } from "../transcript.js";

export interface ReportInput {
  script: CeremonyScript;
  scriptHash: string;
  registry: Registry;
  transcript: readonly TranscriptEntry[];
  final: Checkpoint;
}

export function renderReport(r: ReportInput): string {
  const out: string[] = [];
  const s = r.script;
  out.push(`Plantroot key ceremony ${s.ceremonyId}: ${s.title}`);
  out.push("=".repeat(Math.min(100, out[0]!.length)));
  out.push(`Script SHA-256:   ${r.scriptHash}`);
  out.push(`Registry SHA-256: ${r.registry.hash}`);
  out.push(`Author: ${s.author}; reviewers: ${s.reviewers.join(", ")}`);
  out.push("");
  out.push("Participants");
  for (const role of ROLES) {
    const people = s.roles[role];
    if (!people.length) continue;
    out.push(`  ${ROLE_TITLES[role]}: ${people.map((id) => `${r.registry.get(id)?.name ?? id} (${id})`).join(", ")}`);
  }
  out.push("");
  out.push("Steps");
  for (const step of s.steps) {
    const prepared = r.transcript.find((e) => e.step === step.id && e.action === "step.prepared");
    const executed = r.transcript.find((e) => e.step === step.id && e.action === "step.executed");
    const failed = r.transcript.find((e) => e.step === step.id && e.action === "step.failed");
    const status = executed ? "done" : failed ? "FAILED" : prepared ? "not executed" : "not started";
    out.push(`  [${status}] ${step.id}: ${step.title ? `${step.title} (${step.action})` : step.action}`);
    out.push(`    requires: ${step.requires}`);
    if (prepared?.inputs.tbsHash) out.push(`    to-be-signed SHA-256: ${String(prepared.inputs.tbsHash)}`);
    const refusals = r.transcript.filter((e) => e.step === step.id && e.action === "step.refused");
    for (const x of refusals) out.push(`    refused (${String(x.inputs.phase)}) at ${x.time}`);
    if (failed) out.push(`    failure: ${String(failed.inputs.error)}`);
    if (!executed) continue;
    const approvals = executed.inputs.approvals as Array<{ person: string; role: string }>;
    out.push(`    approved by: ${approvals.map((a) => `${a.person} as ${a.role}`).join(", ") || "—"}`);
    out.push(`    executed at ${executed.time}`);
    for (const [path, hash] of Object.entries(executed.outputs)) out.push(`    wrote ${path}  sha256 ${hash}`);
    for (const a of executed.keyAttributes) {
      const never = a.neverExtractable && !a.extractable;
      out.push(
        `    key "${a.label}" (${a.keyType}): ${never ? "NEVER EXTRACTABLE" : a.extractable ? "extractable only wrapped (backup chosen)" : "not extractable (was extractable before)"}, sensitive=${a.sensitive}, local=${a.local}`,
      );
    }
  }
  out.push("");
  const cp = r.final;
  out.push("Final checkpoint");
  out.push(`  ${cp.body.size} transcript entries, head ${cp.body.head}`);
  out.push(`  signed by HSM key "${cp.log.label}" (${cp.log.keyId})`);
  out.push(`  cosigned by ${cp.cosignatures.map((c) => `${c.person} as ${c.role}`).join(", ")}`);
  out.push("");
  out.push("Verify offline with: plantroot ceremony verify <this directory>");
  return `${out.join("\n")}\n`;
}
