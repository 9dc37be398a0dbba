// The demo's real key ceremony with INSECURE DEMO participants (own SoftHSM tokens, PINs on disk): root +
// SubCA script for the demo policy, dry run, signatures, and the engine run with 2-of-3 officer approvals.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CeremonyScript,
  CeremonySession,
  canonicalBytes,
  canonicalJson,
  checkpointBytes,
  dryRunHash,
  loadScript,
  OfficerToken,
  parseDryRun,
  Registry,
  type RegistryDocument,
  type Role,
  type ScriptSignature,
  signScript,
} from "../ceremonies/index.js";
import { HsmToken, type SoftHsm } from "../hsm/index.js";
import type { NameConstraintsSpec } from "./ca/name-constraints.js";

export const DEMO_LABEL = "INSECURE DEMO";

/** The demo participants: one SoftHSM token each (as a smart card would be), PINs on disk. */
export const DEMO_CAST: ReadonlyArray<{ id: string; name: string; roles: Role[] }> = [
  { id: "demo-admin", name: "Demo Administrator (INSECURE DEMO)", roles: ["admin"] },
  { id: "demo-witness", name: "Demo Witness (INSECURE DEMO)", roles: ["witness"] },
  { id: "demo-officer-1", name: "Demo Officer 1 (INSECURE DEMO)", roles: ["officer"] },
  { id: "demo-officer-2", name: "Demo Officer 2 (INSECURE DEMO)", roles: ["officer"] },
  { id: "demo-officer-3", name: "Demo Officer 3 (INSECURE DEMO)", roles: ["officer"] },
  { id: "demo-auditor", name: "Demo Auditor (INSECURE DEMO)", roles: ["auditor"] },
];

export const DEMO_TOKENS = { appliance: "plantroot-demo-appliance", root: "plantroot-demo-root" } as const;
export const DEMO_KEYS = { root: "demo-root-ca", issuing: "demo-issuing-ca", audit: "audit-checkpoints" } as const;
export const DEMO_ORG = "Plantroot INSECURE DEMO";

const PIN_README = `INSECURE DEMO — NOT FOR ANY REAL USE

These are the PINs of the SoftHSM tokens of \`plantroot demo\`: the appliance's own token and one token per
demo ceremony participant (administrator, witness, three crypto officers, auditor). In a real installation
every participant keeps their own smart card and PIN, and no PIN is ever written to disk. Here they sit
next to the tokens so the demo can run its key ceremony unattended: anybody who can read this directory
can approve ceremony steps, rebuild the root token's PIN from the officers' shares and sign as the CA.
`;

/** Where the demo keeps PIN files: next to the SoftHSM token store, loudly labelled. */
export function demoPinDir(sh: SoftHsm): string {
  return join(sh.dir, "INSECURE-DEMO-PINS");
}

export function demoPinFile(sh: SoftHsm, tokenLabel: string): string {
  return join(demoPinDir(sh), `${tokenLabel}.pin`);
}

/** Creates a SoftHSM token with a random PIN written to its INSECURE DEMO PIN file. */
export function createDemoToken(sh: SoftHsm, label: string): string {
  const dir = demoPinDir(sh);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(dir, "README-INSECURE-DEMO.txt")))
    writeFileSync(join(dir, "README-INSECURE-DEMO.txt"), PIN_README, { mode: 0o600 });
  const pin = randomBytes(12).toString("base64url");
  writeFileSync(demoPinFile(sh, label), `${pin}\n`, { mode: 0o600, flag: "wx" });
  sh.createToken(label, pin);
  return pin;
}

function readDemoPin(sh: SoftHsm, label: string): string {
  return readFileSync(demoPinFile(sh, label), "utf8").replace(/\r?\n$/, "");
}

export interface DemoScriptOptions {
  ceremonyId: string;
  registryHash: string;
  /** http://host:port devices fetch the root CRL and certificate from */
  pkiBaseUrl: string;
  names: NameConstraintsSpec;
  now: Date;
}

const Q = "all(admin, witness) and 2 of officers";

/** The demo ceremony script: root key and certificate, the root's first CRL, SubCA key, request, certificate, import. */
export function demoCeremonyScript(o: DemoScriptOptions): CeremonyScript {
  const notBefore = new Date(Math.floor(o.now.getTime() / 1000) * 1000 - 3600_000);
  const plus = (days: number) => new Date(notBefore.getTime() + days * 86400_000).toISOString();
  const subject = (cn: string) => ({
    commonName: cn,
    organization: DEMO_ORG,
    organizationalUnit: "officers' keys on disk",
  });
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: o.ceremonyId,
    title: "INSECURE DEMO: root CA and issuing SubCA of the demo appliance (officers' keys on disk)",
    registryHash: o.registryHash,
    author: "demo-admin",
    reviewers: ["demo-auditor"],
    roles: {
      admin: ["demo-admin"],
      witness: ["demo-witness"],
      officer: ["demo-officer-1", "demo-officer-2", "demo-officer-3"],
      auditor: ["demo-auditor"],
      custodian: [],
    },
    approvalTtlSeconds: 3600,
    tokens: {
      root: { label: DEMO_TOKENS.root, access: "quorum" },
      appliance: { label: DEMO_TOKENS.appliance, access: "operator" },
    },
    logToken: "root",
    steps: [
      {
        id: "init-root",
        action: "token.init",
        title: "Initialise the root token; its PIN is split 2-of-3 among the officers",
        requires: Q,
        params: { token: "root", threshold: 2, logKey: "ceremony-log" },
      },
      {
        id: "unlock-root",
        action: "token.unlock",
        title: "Unlock the root token",
        requires: Q,
        params: { token: "root" },
      },
      {
        id: "root-key",
        action: "key.generate",
        title: "Generate the root key",
        requires: Q,
        params: { token: "root", label: DEMO_KEYS.root, spec: "P-384", backup: "none" },
      },
      {
        id: "root-cert",
        action: "cert.root",
        title: "Self-signed root certificate",
        requires: Q,
        params: {
          token: "root",
          key: DEMO_KEYS.root,
          subject: subject(`${DEMO_ORG} Root CA`),
          notBefore: notBefore.toISOString(),
          notAfter: plus(3650),
          output: "certs/root.pem",
        },
      },
      {
        id: "root-crl",
        action: "crl.issue",
        title: "The root's first CRL (nothing revoked)",
        requires: Q,
        params: {
          token: "root",
          issuerKey: DEMO_KEYS.root,
          issuerCertificate: { step: "root-cert" },
          number: 1,
          thisUpdate: notBefore.toISOString(),
          nextUpdate: plus(365),
          revoked: [],
          output: "crls/root-1.crl",
        },
      },
      {
        id: "unlock-appliance",
        action: "token.unlock",
        title: "Open the appliance token",
        requires: "all(admin, witness)",
        params: { token: "appliance" },
      },
      {
        id: "subca-key",
        action: "key.generate",
        title: "Generate the SubCA key on the appliance token",
        requires: Q,
        params: { token: "appliance", label: DEMO_KEYS.issuing, spec: "P-256", backup: "none" },
      },
      {
        id: "subca-csr",
        action: "csr.create",
        title: "SubCA certificate request",
        requires: Q,
        params: {
          token: "appliance",
          key: DEMO_KEYS.issuing,
          subject: { commonName: `${DEMO_ORG} appliance SubCA request` },
          output: "csrs/issuing.csr",
        },
      },
      {
        id: "subca-cert",
        action: "cert.subca",
        title: "Technically constrained SubCA certificate (localhost, *.localhost, loopback)",
        requires: Q,
        params: {
          token: "root",
          issuerKey: DEMO_KEYS.root,
          issuerCertificate: { step: "root-cert" },
          request: { step: "subca-csr" },
          subject: subject(`${DEMO_ORG} Issuing CA`),
          notBefore: notBefore.toISOString(),
          notAfter: plus(730),
          permittedDns: o.names.permittedDns,
          permittedIp: o.names.permittedIp,
          ...(o.names.excludedDns.length ? { excludedDns: o.names.excludedDns } : {}),
          ekus: ["serverAuth", "clientAuth"],
          crlUrl: `${o.pkiBaseUrl}/ca/root.crl`,
          issuerUrl: `${o.pkiBaseUrl}/ca/root.crt`,
          output: "certs/issuing.pem",
        },
      },
      {
        id: "subca-import",
        action: "cert.import",
        title: "Import the SubCA certificate into the appliance",
        requires: "all(admin, witness)",
        params: {
          token: "appliance",
          key: DEMO_KEYS.issuing,
          certificate: { step: "subca-cert" },
          issuerCertificate: { step: "root-cert" },
          output: "appliance/chain.pem",
        },
      },
    ],
  };
}

/** Who approves (and who opens PIN shares for) each step: a different 2 of the 3 officers each time. */
const PLAN: Record<string, { officers: string[]; shares?: boolean }> = {
  "init-root": { officers: ["demo-officer-1", "demo-officer-2"] },
  "unlock-root": { officers: ["demo-officer-1", "demo-officer-3"], shares: true },
  "root-key": { officers: ["demo-officer-2", "demo-officer-3"] },
  "root-cert": { officers: ["demo-officer-1", "demo-officer-2"] },
  "root-crl": { officers: ["demo-officer-1", "demo-officer-3"] },
  "unlock-appliance": { officers: [] },
  "subca-key": { officers: ["demo-officer-2", "demo-officer-3"] },
  "subca-csr": { officers: ["demo-officer-1", "demo-officer-2"] },
  "subca-cert": { officers: ["demo-officer-1", "demo-officer-3"] },
  "subca-import": { officers: [] },
};

/** Where `plantroot` is, for the dry run in its own process (source checkout or dist/ build). */
function plantrootBin(): string {
  for (const rel of ["../bin/plantroot.mjs", "../../bin/plantroot.mjs"]) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error("cannot find bin/plantroot.mjs for the dry run");
}

/**
 * `plantroot ceremony dry-run` in a separate process: SoftHSM reads its configuration once per
 * process, and the dry run's throw-away tokens must not land in the demo's token store.
 */
function dryRunInChild(script: string, registry: string, out: string): Promise<void> {
  const env = { ...process.env };
  delete env.PLANTROOT_PKCS11_LIBRARY;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [plantrootBin(), "ceremony", "dry-run", script, "--registry", registry, "--out", out],
      { env, maxBuffer: 4 << 20 },
      (err, _stdout, stderr) => (err ? reject(new Error(`the dry run failed: ${stderr || err.message}`)) : resolve()),
    ),
  );
}

export interface DemoCeremonyOptions {
  dataDir: string;
  /** the demo's SoftHSM store (already selected for this process) */
  sh: SoftHsm;
  pkiBaseUrl: string;
  names: NameConstraintsSpec;
  say: (line: string) => void;
  now?: () => Date;
}

export interface DemoCeremonyResult {
  ceremonyId: string;
  /** the sealed evidence bundle */
  bundleDir: string;
  registryHash: string;
  /** SHA-256 of the ceremony-log key's SPKI (the auditor's pin) */
  logKeyId: string;
  applianceToken: string;
  appliancePinFile: string;
}

/**
 * Runs the whole demo ceremony on the demo's SoftHSM store: tokens for the appliance and each
 * participant, enrollment, script, dry run, signatures, every step with approvals from the
 * participants' own tokens, cosigned final checkpoint, sealed bundle under `<dataDir>/ceremonies/`.
 */
export async function runDemoCeremony(o: DemoCeremonyOptions): Promise<DemoCeremonyResult> {
  const now = o.now ?? (() => new Date());
  const pkg = join(o.dataDir, "ceremony-package");
  mkdirSync(pkg, { recursive: true, mode: 0o700 });
  mkdirSync(join(o.dataDir, "ceremonies"), { recursive: true, mode: 0o700 });
  // the appliance's own token exists before the day; its PIN is the appliance's, not the officers'
  createDemoToken(o.sh, DEMO_TOKENS.appliance);
  o.say(`${DEMO_LABEL}: created the appliance token "${DEMO_TOKENS.appliance}" (PIN in ${demoPinDir(o.sh)})`);
  const people = new Map<string, OfficerToken>();
  try {
    const entries = [];
    for (const c of DEMO_CAST) {
      const pin = createDemoToken(o.sh, c.id);
      const token = HsmToken.open({ library: o.sh.library, label: c.id, pin: { value: pin } });
      const shareKey = c.roles.includes("officer");
      const { officer, entry } = await OfficerToken.enroll(token, { ...c, shareKey }, now());
      people.set(c.id, officer);
      entries.push(entry);
    }
    o.say(
      `${DEMO_LABEL}: enrolled ${DEMO_CAST.length} ceremony participants, each on their own SoftHSM token with the PIN on disk: ${DEMO_CAST.map((c) => `${c.id} (${c.roles.join(",")})`).join(", ")}`,
    );
    const registryDoc: RegistryDocument = {
      schema: "plantroot/participant-registry/v1",
      name: "Plantroot demo PKI (INSECURE DEMO)",
      participants: entries,
    };
    const registry = Registry.parse(registryDoc);
    const t = now();
    const ceremonyId = `DEMO-${t
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")}`;
    const script = demoCeremonyScript({
      ceremonyId,
      registryHash: registry.hash,
      pkiBaseUrl: o.pkiBaseUrl,
      names: o.names,
      now: t,
    });
    const paths = {
      registry: join(pkg, "registry.json"),
      script: join(pkg, "script.json"),
      dryRun: join(pkg, "dry-run.json"),
      signatures: join(pkg, "script-signatures.json"),
    };
    writeFileSync(paths.registry, `${canonicalJson(registry.document)}\n`);
    writeFileSync(paths.script, `${JSON.stringify(script, null, 2)}\n`);
    await dryRunInChild(paths.script, paths.registry, paths.dryRun);
    const dry = parseDryRun(JSON.parse(readFileSync(paths.dryRun, "utf8")));
    const loaded = loadScript(script, registry);
    const signatures: ScriptSignature[] = [
      await signScript(loaded, dryRunHash(dry), people.get(script.author)!, "author", now()),
      ...(await Promise.all(
        script.reviewers.map((r) => signScript(loaded, dryRunHash(dry), people.get(r)!, "reviewer", now())),
      )),
    ];
    writeFileSync(paths.signatures, `${JSON.stringify(signatures, null, 2)}\n`);
    o.say(`${DEMO_LABEL}: script ${ceremonyId} dry-run and signed by its author and reviewer`);

    const appliancePinFile = demoPinFile(o.sh, DEMO_TOKENS.appliance);
    const session = await CeremonySession.open({
      script,
      registry: registry.document,
      scriptSignatures: signatures,
      dryRun: dry,
      bundleDir: join(o.dataDir, "ceremonies", ceremonyId),
      library: o.sh.library,
      operatorPins: { appliance: { file: appliancePinFile } },
      clock: now,
    });
    try {
      // everyone signs the attendance record with their own token before the first step
      for (const p of session.participants())
        for (const role of p.roles) {
          const statement = session.attendanceStatement(p.id, role);
          const signature = (await people.get(p.id)!.sign(canonicalBytes(statement))).toString("base64");
          session.recordAttendance(p.id, role, { statement, signature });
        }
      for (const step of script.steps) {
        const plan = PLAN[step.id]!;
        await session.prepare(step.id);
        const req = session.approvalRequest(step.id);
        const who: Array<[string, Role]> = [
          ["demo-admin", "admin"],
          ["demo-witness", "witness"],
          ...plan.officers.map((id): [string, Role] => [id, "officer"]),
        ];
        for (const [id, role] of who) {
          const r = session.submitApproval(step.id, await people.get(id)!.approve(req, role, session.now()));
          if (!r.accepted) throw new Error(`demo approval by ${id} of ${step.id} refused: ${r.reason} ${r.detail}`);
        }
        if (plan.shares) for (const id of plan.officers) session.contributeShare(step.id, id, people.get(id)!.ecdh);
        await session.execute(step.id);
        o.say(
          `${DEMO_LABEL} ceremony ${ceremonyId}: ${step.id} done, approved by ${who.map(([id, r]) => `${id} as ${r}`).join(", ")}`,
        );
      }
      const body = await session.finish("INSECURE DEMO ceremony run unattended by plantroot demo");
      for (const p of session.participants())
        for (const role of p.roles)
          if (role === "witness" || role === "auditor")
            session.addCosignature(
              p.id,
              role,
              (await people.get(p.id)!.sign(checkpointBytes(body))).toString("base64"),
            );
      await session.seal();
    } catch (e) {
      session.close();
      throw e;
    }
    const logKeyId = String(session.step("init-root").result?.summary.logKeyId);
    return {
      ceremonyId,
      bundleDir: session.dir,
      registryHash: registry.hash,
      logKeyId,
      applianceToken: DEMO_TOKENS.appliance,
      appliancePinFile,
    };
  } finally {
    for (const p of people.values()) p.token.close();
  }
}

/** Opens a demo token with its on-disk PIN. */
export function openWithDemoPin(sh: SoftHsm, label: string): HsmToken {
  return HsmToken.open({ library: sh.library, label, pin: { value: readDemoPin(sh, label) } });
}
