// Test helper for ceremonies: every participant gets their own SoftHSM token (as a smart card would),
// enrolls an approval key and a share key on it; scripts are dry-run and signed like on a real day.
import { HsmToken, type SoftHsm } from "../../hsm/index.js";
import { dryRun } from "../../ceremonies/engine/dry-run.js";
import type { DryRunReport } from "../../ceremonies/engine/dry-run-report.js";
import { CeremonySession, type SessionOptions } from "../../ceremonies/engine/session.js";
import { jcsHash } from "../../ceremonies/jcs.js";
import { OfficerToken } from "../../ceremonies/officer.js";
import { Registry, type RegistryDocument } from "../../ceremonies/registry.js";
import type { Role } from "../../ceremonies/roles.js";
import { type CeremonyScript, loadScript, type ScriptSignature, signScript } from "../../ceremonies/script.js";

export interface Person {
  id: string;
  name: string;
  roles: Role[];
  token: HsmToken;
  officer: OfficerToken;
}

export const CAST: Array<{ id: string; name: string; roles: Role[] }> = [
  { id: "alice", name: "Alice Admin", roles: ["admin"] },
  { id: "bob", name: "Bob Witness", roles: ["witness"] },
  { id: "carol", name: "Carol Officer", roles: ["officer"] },
  { id: "dave", name: "Dave Officer", roles: ["officer"] },
  { id: "erin", name: "Erin Officer", roles: ["officer"] },
  { id: "kim", name: "Kim Auditor", roles: ["auditor"] },
  { id: "frank", name: "Frank Custodian", roles: ["custodian"] },
  { id: "grace", name: "Grace Custodian", roles: ["custodian"] },
  { id: "heidi", name: "Heidi Custodian", roles: ["custodian"] },
  { id: "rita", name: "Rita Reviewer", roles: ["witness"] },
];

/** Creates one token per person, enrolls them, and returns the registry document. */
export async function enrollCast(
  sh: SoftHsm,
  cast = CAST,
): Promise<{ people: Map<string, Person>; registry: RegistryDocument }> {
  const people = new Map<string, Person>();
  const entries = [];
  for (const c of cast) {
    const label = `p-${c.id}`;
    const pin = `pin-${c.id}`;
    sh.createToken(label, pin);
    const token = HsmToken.open({ library: sh.library, label, pin: { value: pin } });
    const shareKey = c.roles.includes("officer") || c.roles.includes("custodian");
    const { officer, entry } = await OfficerToken.enroll(token, { ...c, shareKey });
    people.set(c.id, { ...c, token, officer });
    entries.push(entry);
  }
  return {
    people,
    registry: { schema: "plantroot/participant-registry/v1", name: "Plant Nord PKI (test)", participants: entries },
  };
}

export function closeCast(people: Map<string, Person>): void {
  for (const p of people.values()) p.token.close();
}

/** Dry-runs the script and has its author and reviewers sign script + dry-run report. */
export async function prepareScript(
  script: CeremonyScript,
  registry: RegistryDocument,
  people: Map<string, Person>,
  opts: { files?: Record<string, Buffer>; library?: string; mutateDryRun?: (d: DryRunReport) => void } = {},
): Promise<{ dry: DryRunReport; signatures: ScriptSignature[] }> {
  const reg = Registry.parse(registry);
  const loaded = loadScript(script, reg);
  const dry = await dryRun({ script, registry, files: opts.files, library: opts.library });
  opts.mutateDryRun?.(dry);
  const h = jcsHash(dry);
  const signatures = [await signScript(loaded, h, people.get(script.author)!.officer, "author")];
  for (const r of script.reviewers) signatures.push(await signScript(loaded, h, people.get(r)!.officer, "reviewer"));
  return { dry, signatures };
}

export async function openSession(
  script: CeremonyScript,
  registry: RegistryDocument,
  people: Map<string, Person>,
  opts: Partial<SessionOptions> & { bundleDir: string; mutateDryRun?: (d: DryRunReport) => void },
): Promise<CeremonySession> {
  const { dry, signatures } = await prepareScript(script, registry, people, {
    files: opts.files,
    library: opts.library,
    mutateDryRun: opts.mutateDryRun,
  });
  const { mutateDryRun: _, ...rest } = opts;
  return CeremonySession.open({ script, registry, scriptSignatures: signatures, dryRun: dry, ...rest });
}

/** Has each [person, role] approve the step with their own token. */
export async function approve(
  session: CeremonySession,
  stepId: string,
  people: Map<string, Person>,
  who: Array<[string, Role]>,
  time?: Date,
): Promise<void> {
  const req = session.approvalRequest(stepId);
  for (const [id, role] of who) {
    const a = await people.get(id)!.officer.approve(req, role, time ?? session.now());
    const r = session.submitApproval(stepId, a);
    if (!r.accepted) throw new Error(`approval by ${id} refused: ${r.reason} ${r.detail}`);
  }
}

/** prepare + approvals (+ shares) + execute. */
export async function runStep(
  session: CeremonySession,
  stepId: string,
  people: Map<string, Person>,
  who: Array<[string, Role]>,
  shareHolders: string[] = [],
): Promise<void> {
  await session.prepare(stepId);
  await approve(session, stepId, people, who);
  for (const id of shareHolders) session.contributeShare(stepId, id, people.get(id)!.officer.ecdh);
  await session.execute(stepId);
}

/** Final checkpoint, cosignatures of witnesses and auditors, seal. */
export async function sealSession(session: CeremonySession, people: Map<string, Person>) {
  const body = await session.finish();
  const { checkpointBytes } = await import("../../ceremonies/transcript.js");
  for (const p of session.participants())
    for (const role of p.roles)
      if (role === "witness" || role === "auditor") {
        const sig = await people.get(p.id)!.officer.sign(checkpointBytes(body));
        session.addCosignature(p.id, role, sig.toString("base64"));
      }
  return session.seal();
}
