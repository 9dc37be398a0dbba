// Installs a ceremony's SubCA into an appliance (`plantroot ceremony install-subca`, `plantroot demo`):
// verified bundle, certificate = key on the appliance token, CA files written, `ceremony.subca-installed` audited.
import { createHash, X509Certificate } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  ScriptSchema,
  type ScriptStep,
  type TranscriptEntry,
  type VerifyPins,
  verifyBundle,
} from "../ceremonies/index.js";
import type { HsmToken } from "../hsm/index.js";
import type { AppendedEntry } from "./audit/index.js";
import { derToPem, pemToDer } from "./ca/cert-parse.js";
import type { CaConfig } from "./ca/config.js";
import { createCa } from "./ca/create-ca.js";
import { ApplianceError } from "./errors.js";
import type { Db } from "./store/db.js";

export const SUBCA_INSTALLED = "ceremony.subca-installed";

/** What a verified evidence bundle says about the SubCA it made for an appliance. */
export interface CeremonySubCa {
  bundle: string;
  ceremonyId: string;
  scriptHash: string;
  registryHash: string;
  /** hash of the last transcript entry (what the final, cosigned checkpoint signs) */
  transcriptHead: string;
  transcriptEntries: number;
  /** the cert.import step that checked the certificate against the appliance key */
  stepId: string;
  tokenLabel: string;
  keyLabel: string;
  /** the SubCA certificate and the root that signed it (DER) */
  certificate: Buffer;
  certificateSha256: string;
  root: Buffer;
  /** the newest root CRL the ceremony issued under that root, if any (DER) */
  rootCrl?: Buffer;
  /** whether the registry / ceremony-log key were pinned when verifying */
  pinned: { registry: boolean; logKey: boolean };
}

function fail(message: string): never {
  throw new ApplianceError("malformed", message);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function pemBlocks(text: string): Buffer[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)].map((m) => pemToDer(m[0]));
}

/**
 * Verifies the bundle (with the auditor's pins when given) and reads the SubCA of its cert.import
 * step (`step` when the ceremony imported more than one). Throws ApplianceError naming the problem.
 */
export function readCeremonySubCa(bundle: string, pins: VerifyPins & { step?: string } = {}): CeremonySubCa {
  const dir = resolve(bundle);
  const { step: wanted, ...verifyPins } = pins;
  const r = verifyBundle(dir, verifyPins);
  if (!r.ok) fail(`evidence bundle ${dir} does not verify: ${r.problem}`);
  const script = ScriptSchema.parse(JSON.parse(readFileSync(join(dir, "script.json"), "utf8")));
  const entries = readFileSync(join(dir, "transcript.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l)
    .map((l) => JSON.parse(l) as TranscriptEntry);
  const executed = new Map(entries.filter((e) => e.action === "step.executed").map((e) => [e.step!, e]));
  const imports = script.steps.filter(
    (s): s is Extract<ScriptStep, { action: "cert.import" }> => s.action === "cert.import" && executed.has(s.id),
  );
  const step = wanted ? imports.find((s) => s.id === wanted) : imports.length === 1 ? imports[0] : undefined;
  if (!step)
    fail(
      wanted
        ? `ceremony ${script.ceremonyId} has no executed cert.import step "${wanted}"`
        : imports.length
          ? `ceremony ${script.ceremonyId} imported ${imports.length} certificates (${imports.map((s) => s.id).join(", ")}): name one with --step`
          : `ceremony ${script.ceremonyId} imported no SubCA certificate into an appliance (no executed cert.import step)`,
    );
  const pathOf = (ref: { step: string } | { file: string } | { input: string }): string => {
    if ("file" in ref) return ref.file;
    if ("input" in ref) return `inputs/provided/${ref.input}`;
    const out = executed.get(ref.step)?.inputs.primaryOutput;
    if (typeof out !== "string") fail(`step ${ref.step} of ${script.ceremonyId} produced no output`);
    return out;
  };
  const derAt = (rel: string): Buffer => {
    const blocks = pemBlocks(readFileSync(join(dir, rel), "latin1"));
    if (blocks.length !== 1) fail(`${rel} in the bundle is not one PEM certificate`);
    return blocks[0]!;
  };
  const certificate = derAt(pathOf(step.params.certificate));
  const root = derAt(pathOf(step.params.issuerCertificate));
  const rootX = new X509Certificate(root);
  if (!rootX.checkIssued(rootX) || !rootX.verify(rootX.publicKey))
    fail(`the issuer of the SubCA in ${script.ceremonyId} is not a self-signed root; only root-signed SubCAs install`);
  if (!new X509Certificate(certificate).verify(rootX.publicKey))
    fail(`the SubCA certificate of ${script.ceremonyId} is not signed by its root`);
  // the newest CRL this ceremony issued under the same root (e.g. the root's first, empty CRL)
  let rootCrl: Buffer | undefined;
  let newest = 0;
  for (const s of script.steps) {
    if (s.action !== "crl.issue" || !executed.has(s.id)) continue;
    const issuerPath = pathOf(s.params.issuerCertificate);
    if (!derAt(issuerPath).equals(root) || s.params.number <= newest) continue;
    const crl = pemBlocks(readFileSync(join(dir, s.params.output), "latin1"))[0];
    if (!crl) fail(`${s.params.output} in the bundle is not a PEM CRL`);
    rootCrl = crl;
    newest = s.params.number;
  }
  const head = entries[entries.length - 1]!;
  const token = script.tokens[step.params.token];
  if (!token) fail(`step ${step.id} names an undeclared token`);
  return {
    bundle: dir,
    ceremonyId: script.ceremonyId,
    scriptHash: r.scriptHash!,
    registryHash: r.registryHash!,
    transcriptHead: head.hash,
    transcriptEntries: entries.length,
    stepId: step.id,
    tokenLabel: token.label,
    keyLabel: step.params.key,
    certificate,
    certificateSha256: sha256(certificate),
    root,
    ...(rootCrl ? { rootCrl } : {}),
    pinned: { registry: !!verifyPins.registryHash, logKey: !!verifyPins.logKeyId },
  };
}

function derOf(file: Buffer): Buffer {
  const text = file.toString("latin1");
  return text.includes("-----BEGIN") ? pemToDer(text) : file;
}

/** Writes `data` to `path` atomically (temp file, fsync, rename); returns false when it was already there. */
function writeAtomic(path: string, data: Buffer | string): boolean {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (existsSync(path) && readFileSync(path).equals(buf)) return false;
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  const tmp = `${path}.installing`;
  const fd = openSync(tmp, "w", 0o640);
  try {
    writeSync(fd, buf);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return true;
}

export interface InstallOptions {
  subca: CeremonySubCa;
  /** the appliance's own token, open and logged in (holds the SubCA key and the audit key) */
  token: HsmToken;
  /** the appliance's CA configuration (parsed): which key labels and certificate files it uses */
  caConfig: CaConfig;
  /** the appliance database (opened with MIGRATIONS) */
  db: Db;
  /** who installs, for the audit entry (e.g. "operator", "demo") */
  actor: string;
  now?: () => Date;
}

export interface InstallResult {
  /** files written (already identical ones are not rewritten) */
  written: string[];
  /** the audit entry appended, or null when this certificate's installation was already recorded */
  audit: AppendedEntry | null;
}

/**
 * The checks before anything is written: the ceremony made the key on this appliance's token, under
 * the label the CA configuration uses, and the certificate carries exactly that key.
 */
export function checkSubCaFits(subca: CeremonySubCa, token: HsmToken, caConfig: CaConfig): void {
  const label = token.tokenInfo().label;
  if (label !== subca.tokenLabel)
    fail(
      `ceremony ${subca.ceremonyId} made the SubCA key on token "${subca.tokenLabel}", but this appliance uses token "${label}"`,
    );
  if (caConfig.hsm.issuingKeyLabel !== subca.keyLabel)
    fail(
      `the CA configuration names issuing key "${caConfig.hsm.issuingKeyLabel}", but ceremony ${subca.ceremonyId} made "${subca.keyLabel}" (set ca.hsm.issuingKeyLabel)`,
    );
  const key = token.findKey(subca.keyLabel);
  const certSpki = new X509Certificate(subca.certificate).publicKey.export({ type: "spki", format: "der" });
  if (!certSpki.equals(key.spki))
    fail(`the SubCA certificate of ${subca.ceremonyId} does not carry the key "${subca.keyLabel}" on token "${label}"`);
}

/**
 * Checks the certificate against the key on the appliance token, writes the certificate files named
 * by the CA configuration, starts the CA on them (its own start checks run: key, chain, validity) and
 * appends `ceremony.subca-installed` to the audit chain through the CA's audit log. Idempotent: a
 * second call with the same certificate writes nothing and appends nothing. If the CA refuses the new
 * files, the previous ones are put back.
 */
export async function installCeremonySubCa(o: InstallOptions): Promise<InstallResult> {
  const { subca, caConfig } = o;
  checkSubCaFits(subca, o.token, caConfig);
  const files: Array<[string, Buffer | string]> = [
    [caConfig.certificates.issuing, derToPem(subca.certificate)],
    [caConfig.certificates.root, derToPem(subca.root)],
  ];
  if (caConfig.certificates.rootCrl && subca.rootCrl) files.push([caConfig.certificates.rootCrl, subca.rootCrl]);
  const previous = files.map(([p]) => (existsSync(p) ? readFileSync(p) : undefined));
  const before = previous[0] ? sha256(derOf(previous[0])) : null;
  const rootBefore = previous[1] ? sha256(derOf(previous[1])) : null;
  const written = files.filter(([p, d]) => writeAtomic(p, d)).map(([p]) => p);
  let ca: Awaited<ReturnType<typeof createCa>>;
  try {
    ca = await createCa({ config: caConfig, token: o.token, db: o.db, ...(o.now ? { now: o.now } : {}) });
  } catch (e) {
    // the CA refused the new files: put back what was there (or nothing)
    files.forEach(([p], i) => {
      if (!written.includes(p)) return;
      const old = previous[i];
      if (old) writeAtomic(p, old);
      else rmSync(p, { force: true });
    });
    throw e;
  }
  try {
    const last = await ca.audit.lastOfType(SUBCA_INSTALLED);
    const lastCert = last ? (JSON.parse(last.details) as { certificateSha256?: string }).certificateSha256 : undefined;
    if (lastCert === subca.certificateSha256) return { written, audit: null };
    const x = new X509Certificate(subca.certificate);
    const audit = await ca.audit.append({
      type: SUBCA_INSTALLED,
      actor: o.actor,
      subject: `subca:${subca.certificateSha256}`,
      details: {
        ceremonyId: subca.ceremonyId,
        scriptHash: subca.scriptHash,
        registryHash: subca.registryHash,
        transcriptHead: subca.transcriptHead,
        transcriptEntries: subca.transcriptEntries,
        step: subca.stepId,
        certificateSha256: subca.certificateSha256,
        serial: x.serialNumber.toLowerCase(),
        subject: x.subject.replace(/\n/g, ", "),
        notBefore: new Date(x.validFrom).toISOString(),
        notAfter: new Date(x.validTo).toISOString(),
        rootSha256: sha256(subca.root),
        rootCrlSha256: subca.rootCrl ? sha256(subca.rootCrl) : null,
        previousIssuingSha256: before,
        previousRootSha256: rootBefore,
        token: subca.tokenLabel,
        key: subca.keyLabel,
        bundle: subca.bundle,
        pinned: subca.pinned,
      },
    });
    return { written, audit };
  } finally {
    await ca.close();
  }
}
