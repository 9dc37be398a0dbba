// Ceremony scripts as data: the strict schema (unknown keys rejected), the script hash, the checks a
// script must pass before the day, and the author/reviewer signatures over it.
import { z } from "zod";
import { KEY_SPECS, SIGNATURE_ALGORITHMS } from "../hsm/key-spec.js";
import { STEP_ID } from "./approvals.js";
import { CeremonyError } from "./errors.js";
import { canonicalBytes, HEX64, jcsHash } from "./jcs.js";
import { B64, verifySha256 } from "./keys.js";
import { emptyAssignment, type RoleAssignment, satisfiable } from "./quorum/evaluate.js";
import { formatQuorum, parseQuorum, type QuorumExpr } from "./quorum/grammar.js";
import { PERSON_ID, type Registry } from "./registry.js";
import { ROLES, type Role, roleConflict } from "./roles.js";

const hex64 = z.string().regex(HEX64, "must be 64 lower-case hex digits");
const personId = z.string().regex(PERSON_ID);
const tokenName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "token names are lower-case words");
const keyLabel = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "key labels are letters, digits, '.', '_', '-'");
const isoTime = z.iso.datetime({ offset: false });
/** A path inside the evidence bundle: relative, no "..", no hidden files. */
export const BUNDLE_PATH = /^(?:[a-z0-9][a-z0-9._-]*\/)*[a-z0-9][a-z0-9._-]*$/;
const bundlePath = z
  .string()
  .max(160)
  .regex(BUNDLE_PATH, "must be a relative path of lower-case names")
  .refine((p) => !p.split("/").includes(".."), "must not contain ..");

/** Where a step takes a document from. */
export const RefSchema = z.union([
  /** an output of an earlier step of this ceremony */
  z.strictObject({ step: z.string().regex(STEP_ID) }),
  /** a file carried in, pinned by hash in the signed script; copied into the bundle's inputs/ */
  z.strictObject({ file: bundlePath, sha256: hex64 }),
  /** supplied during the ceremony by a participant, who then cannot approve the step */
  z.strictObject({ input: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/) }),
]);
export type Ref = z.infer<typeof RefSchema>;

const NameSchema = z.strictObject({
  commonName: z.string().min(1).max(64),
  organization: z.string().min(1).max(64).optional(),
  organizationalUnit: z.string().min(1).max(64).optional(),
  locality: z.string().min(1).max(128).optional(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .optional(),
});
export type NameSpec = z.infer<typeof NameSchema>;

const Validity = {
  notBefore: isoTime,
  notAfter: isoTime,
};

const common = {
  id: z.string().regex(STEP_ID),
  title: z.string().min(1).max(200).optional(),
  /** quorum expression, e.g. `all(admin, witness) and 2 of officers` */
  requires: z.string().min(1).max(256),
};

export const StepSchema = z.discriminatedUnion("action", [
  z.strictObject({
    ...common,
    action: z.literal("registry.confirm"),
    params: z.strictObject({}),
  }),
  z.strictObject({
    ...common,
    action: z.literal("token.init"),
    params: z.strictObject({
      token: tokenName,
      /** officers needed to rebuild the PIN */
      threshold: z.number().int().min(2).max(16),
      /** the token's ceremony-log key (P-256, never extractable) that signs transcript checkpoints */
      logKey: keyLabel,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("token.unlock"),
    params: z.strictObject({ token: tokenName }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("key.generate"),
    params: z.strictObject({
      token: tokenName,
      label: keyLabel,
      /** P-384 unless the script names another (e.g. "RSA-4096" for an RSA root); the hash covers the default */
      spec: z.enum(KEY_SPECS).default("P-384"),
      /** "wrap": the key is made CKA_EXTRACTABLE (still sensitive) so a later backup.wrap step can back it up */
      backup: z.enum(["none", "wrap"]),
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("csr.create"),
    params: z.strictObject({
      token: tokenName,
      key: keyLabel,
      subject: NameSchema,
      signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("cert.root"),
    params: z.strictObject({
      token: tokenName,
      key: keyLabel,
      subject: NameSchema,
      ...Validity,
      signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
      /** basicConstraints pathLenConstraint; omitted = unlimited */
      pathLen: z.number().int().min(0).max(4).optional(),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("cert.subca"),
    params: z.strictObject({
      token: tokenName,
      issuerKey: keyLabel,
      issuerCertificate: RefSchema,
      /** PKCS#10 request carrying the SubCA's public key (proof of possession is checked) */
      request: RefSchema,
      subject: NameSchema,
      ...Validity,
      signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
      permittedDns: z.array(z.string().min(1).max(253)).max(64),
      permittedIp: z.array(z.string().min(3).max(64)).max(64),
      excludedDns: z.array(z.string().min(1).max(253)).max(64).optional(),
      ekus: z.array(z.enum(["serverAuth", "clientAuth"])).min(1),
      crlUrl: z.url(),
      issuerUrl: z.url().optional(),
      ocspUrl: z.url().optional(),
      /** rotation: the SubCA certificate this one replaces; validity must overlap it, the key must differ */
      replaces: RefSchema.optional(),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("cert.import"),
    params: z.strictObject({
      token: tokenName,
      key: keyLabel,
      certificate: RefSchema,
      issuerCertificate: RefSchema,
      /** the chain the appliance serves (certificate, then issuer), PEM */
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("crl.issue"),
    params: z.strictObject({
      token: tokenName,
      issuerKey: keyLabel,
      issuerCertificate: RefSchema,
      number: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
      thisUpdate: isoTime,
      nextUpdate: isoTime,
      signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
      /** IssuingDistributionPoint URL (critical) naming where this CRL is published */
      distributionPoint: z.url().optional(),
      revoked: z
        .array(
          z.strictObject({
            certificate: RefSchema,
            reason: z.enum([
              "unspecified",
              "keyCompromise",
              "cACompromise",
              "affiliationChanged",
              "superseded",
              "cessationOfOperation",
            ]),
            date: isoTime,
          }),
        )
        .max(256),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("cert.cross"),
    params: z.strictObject({
      token: tokenName,
      issuerKey: keyLabel,
      issuerCertificate: RefSchema,
      /** the other CA's self-signed certificate whose subject and key are cross-certified */
      subjectCertificate: RefSchema,
      ...Validity,
      signatureAlgorithm: z.enum(SIGNATURE_ALGORITHMS).optional(),
      pathLen: z.number().int().min(0).max(4).optional(),
      crlUrl: z.url(),
      issuerUrl: z.url().optional(),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("backup.wrap"),
    params: z.strictObject({
      token: tokenName,
      key: keyLabel,
      /** custodians needed to rebuild the key-encryption key; shares go to every assigned custodian */
      threshold: z.number().int().min(2).max(16),
      output: bundlePath,
    }),
  }),
  z.strictObject({
    ...common,
    action: z.literal("backup.recover"),
    params: z.strictObject({
      /** the token the key is recovered into */
      token: tokenName,
      key: keyLabel,
      /** the backup.wrap output (wrapped key, public key, custodian share set) */
      backup: RefSchema,
      output: bundlePath,
    }),
  }),
]);
export type ScriptStep = z.infer<typeof StepSchema>;
export type StepAction = ScriptStep["action"];

export const TokenDeclSchema = z.strictObject({
  /** PKCS#11 token label (never a slot number) */
  label: z.string().min(1).max(32),
  /** "quorum": the PIN is rebuilt from officers' shares; "operator": the appliance's own PIN source */
  access: z.enum(["quorum", "operator"]),
  /** the token's ceremony-log key, pinned by SPKI hash, when it exists before this ceremony */
  logKey: z.strictObject({ label: keyLabel, keyId: hex64 }).optional(),
});

const RolesSchema = z.strictObject(
  Object.fromEntries(ROLES.map((r) => [r, z.array(personId).max(32)])) as Record<Role, z.ZodArray<z.ZodString>>,
);

export const ScriptSchema = z.strictObject({
  schema: z.literal("plantroot/ceremony-script/v1"),
  ceremonyId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/),
  title: z.string().min(1).max(200),
  /** SHA-256 of the participant registry's canonical JSON */
  registryHash: hex64,
  author: personId,
  reviewers: z.array(personId).min(1).max(16),
  roles: RolesSchema,
  /** how long an approval stays valid */
  approvalTtlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86400),
  tokens: z.record(tokenName, TokenDeclSchema),
  /** the token whose ceremony-log key signs the transcript checkpoints */
  logToken: tokenName,
  steps: z.array(StepSchema).min(1).max(64),
});
export type CeremonyScript = z.infer<typeof ScriptSchema>;

/** A parsed script plus what is derived from it: hash, quorum ASTs, role assignment. */
export interface LoadedScript {
  script: CeremonyScript;
  hash: string;
  assignment: RoleAssignment;
  quorum: Map<string, QuorumExpr>;
}

function bad(msg: string): never {
  throw new CeremonyError("bad-script", msg);
}

/** Actions that change a token, with the token param they act on. */
const STEP_TOKEN = (s: ScriptStep): string | undefined => ("token" in s.params ? s.params.token : undefined);

/**
 * Parses untrusted script JSON and checks it against the registry: schema, step ids unique, refs point
 * backwards, roles held by registered people without conflicts, every requirement satisfiable.
 */
export function loadScript(input: unknown, registry: Registry): LoadedScript {
  const r = ScriptSchema.safeParse(input);
  if (!r.success) bad(`script: ${z.prettifyError(r.error)}`);
  const script = r.data;
  if (script.registryHash !== registry.hash) bad("script names a different participant registry");
  const assignment = emptyAssignment();
  const rolesOfPerson = new Map<string, Role[]>();
  for (const role of ROLES) {
    const people = script.roles[role];
    if (new Set(people).size !== people.length) bad(`roles.${role} lists a person twice`);
    for (const id of people) {
      const p = registry.get(id);
      if (!p) bad(`roles.${role}: "${id}" is not in the participant registry`);
      if (!p.roles.includes(role)) bad(`roles.${role}: "${id}" is not enrolled as ${role}`);
      rolesOfPerson.set(id, [...(rolesOfPerson.get(id) ?? []), role]);
      assignment[role].push(id);
    }
  }
  for (const [id, roles] of rolesOfPerson) {
    const c = roleConflict(roles);
    if (c) bad(`"${id}" cannot be ${c[0]} and ${c[1]} in one ceremony`);
  }
  if (assignment.admin.length !== 1) bad("a ceremony has exactly one administrator");
  if (assignment.witness.length < 1) bad("a ceremony needs an internal witness");
  if (assignment.auditor.length < 1) bad("a ceremony needs an auditor");
  if (!registry.get(script.author)) bad(`author "${script.author}" is not in the participant registry`);
  if (new Set(script.reviewers).size !== script.reviewers.length) bad("a reviewer is listed twice");
  for (const rv of script.reviewers) {
    if (rv === script.author) bad("the author cannot review their own script");
    if (!registry.get(rv)) bad(`reviewer "${rv}" is not in the participant registry`);
  }
  const logDecl = script.tokens[script.logToken];
  if (!logDecl) bad(`logToken "${script.logToken}" is not declared in tokens`);
  const initsLog = script.steps.some((s) => s.action === "token.init" && s.params.token === script.logToken);
  if (!initsLog && !logDecl.logKey)
    bad(`token "${script.logToken}" signs checkpoints: declare its logKey or initialise it in this ceremony`);
  if (initsLog && logDecl.logKey) bad(`token "${script.logToken}" is initialised here and cannot pin an older logKey`);
  if (logDecl.access !== "quorum") bad(`the checkpoint token "${script.logToken}" must be a quorum token`);
  const quorum = new Map<string, QuorumExpr>();
  const seen: ScriptStep[] = [];
  const outputs = new Set<string>();
  const labels = new Set<string>();
  for (const step of script.steps) {
    if (quorum.has(step.id)) bad(`step id "${step.id}" is used twice`);
    let expr: QuorumExpr;
    try {
      expr = parseQuorum(step.requires);
    } catch (e) {
      bad(`step ${step.id}: ${(e as Error).message}`);
    }
    if (!satisfiable(expr, assignment))
      bad(`step ${step.id}: "${formatQuorum(expr)}" cannot be met by the people assigned to this ceremony`);
    quorum.set(step.id, expr);
    const tok = STEP_TOKEN(step);
    if (tok !== undefined && !script.tokens[tok]) bad(`step ${step.id}: token "${tok}" is not declared in tokens`);
    for (const ref of refsOf(step)) {
      if ("step" in ref) {
        if (!seen.some((s) => s.id === ref.step))
          bad(`step ${step.id}: refers to "${ref.step}", which is not an earlier step`);
      }
    }
    if ("output" in step.params) {
      const out = step.params.output;
      if (outputs.has(out)) bad(`step ${step.id}: output ${out} is written by an earlier step`);
      if (RESERVED_PATHS.some((p) => out === p || out.startsWith(`${p}/`)))
        bad(`step ${step.id}: output ${out} is a reserved bundle path`);
      outputs.add(out);
    }
    if (step.action === "key.generate") {
      const k = `${step.params.token}/${step.params.label}`;
      if (labels.has(k)) bad(`step ${step.id}: key label ${step.params.label} is generated twice`);
      labels.add(k);
    }
    if (step.action === "token.init" && step.params.threshold > assignment.officer.length)
      bad(`step ${step.id}: threshold ${step.params.threshold} exceeds the ${assignment.officer.length} officers`);
    if (step.action === "backup.wrap" && step.params.threshold > assignment.custodian.length)
      bad(`step ${step.id}: threshold ${step.params.threshold} exceeds the ${assignment.custodian.length} custodians`);
    seen.push(step);
  }
  return { script, hash: jcsHash(script), assignment, quorum };
}

/** Bundle paths the engine writes itself; steps may not use them as outputs. */
export const RESERVED_PATHS = [
  "script.json",
  "script-signatures.json",
  "registry.json",
  "dry-run.json",
  "transcript.jsonl",
  "checkpoints",
  "report.txt",
  "approvals",
  "tbs",
  "inputs",
  "keys",
  "tokens",
];

export function refsOf(step: ScriptStep): Ref[] {
  const p = step.params as Record<string, unknown>;
  const out: Ref[] = [];
  for (const k of ["issuerCertificate", "request", "certificate", "subjectCertificate", "backup", "replaces"])
    if (p[k] !== null && typeof p[k] === "object") out.push(p[k] as Ref);
  if (step.action === "crl.issue") for (const r of step.params.revoked) out.push(r.certificate);
  return out;
}

// ---- script signatures ----

export const SCRIPT_SIGNATURE_TYPE = "plantroot/ceremony-script-signature/v1";

export const ScriptSignatureSchema = z.strictObject({
  statement: z.strictObject({
    type: z.literal(SCRIPT_SIGNATURE_TYPE),
    ceremonyId: z.string(),
    scriptHash: hex64,
    /** SHA-256 of the dry-run report the signer reviewed (canonical JSON) */
    dryRunHash: hex64,
    signer: personId,
    capacity: z.enum(["author", "reviewer"]),
    time: isoTime,
  }),
  signature: z.string().regex(B64).min(8).max(512),
});
export type ScriptSignature = z.infer<typeof ScriptSignatureSchema>;

export const ScriptSignaturesSchema = z.array(ScriptSignatureSchema).max(32);

/**
 * Checks that the author and every listed reviewer signed this script and this dry-run report with
 * their enrolled approval keys. Throws CeremonyError("bad-script") naming the first problem.
 */
export function checkScriptSignatures(
  loaded: LoadedScript,
  registry: Registry,
  signatures: unknown,
  dryRunHash: string,
): ScriptSignature[] {
  const parsed = ScriptSignaturesSchema.safeParse(signatures);
  if (!parsed.success) bad(`script signatures: ${z.prettifyError(parsed.error)}`);
  const { script } = loaded;
  const wanted = new Map<string, "author" | "reviewer">([
    [script.author, "author"],
    ...script.reviewers.map((r) => [r, "reviewer"] as [string, "reviewer"]),
  ]);
  const got = new Set<string>();
  for (const s of parsed.data) {
    const st = s.statement;
    const p = registry.get(st.signer);
    if (!p) bad(`script signature by unknown participant "${st.signer}"`);
    if (wanted.get(st.signer) !== st.capacity) bad(`${st.signer} is not the script's ${st.capacity}`);
    if (got.has(st.signer)) bad(`${st.signer} signed the script twice`);
    if (st.ceremonyId !== script.ceremonyId || st.scriptHash !== loaded.hash)
      bad(`${st.signer}'s signature covers a different script`);
    if (st.dryRunHash !== dryRunHash) bad(`${st.signer}'s signature covers a different dry-run report`);
    if (!verifySha256(p.approvalKey, canonicalBytes(st), s.signature))
      bad(`${st.signer}'s script signature does not verify`);
    got.add(st.signer);
  }
  for (const [who, capacity] of wanted) if (!got.has(who)) bad(`the script lacks the ${capacity} signature of ${who}`);
  return parsed.data;
}

export async function signScript(
  loaded: LoadedScript,
  dryRunHash: string,
  signer: { person: string; sign(data: Buffer): Promise<Buffer> },
  capacity: "author" | "reviewer",
  time = new Date(),
): Promise<ScriptSignature> {
  const statement = {
    type: SCRIPT_SIGNATURE_TYPE,
    ceremonyId: loaded.script.ceremonyId,
    scriptHash: loaded.hash,
    dryRunHash,
    signer: signer.person,
    capacity,
    time: time.toISOString(),
  } as const;
  const sig = await signer.sign(canonicalBytes(statement));
  return { statement, signature: sig.toString("base64") };
}
