// `plantroot ceremony`: key ceremonies from a terminal — enroll a participant's token, assemble the
// registry, check / dry-run / sign a script, approve on one's own token, run a ceremony, verify a bundle.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  type ApprovalRequest,
  CeremonySession,
  canonicalBytes,
  canonicalJson,
  checkpointBytes,
  describeQuorum,
  dryRun,
  exceptionStatement,
  formatDecoded,
  jcsHash,
  loadScript,
  OfficerToken,
  parseDryRun,
  Registry,
  ROLES,
  type Role,
  type ShareSet,
  ShareSetSchema,
  type StepView,
  signScript,
  verifyBundle,
} from "../../ceremonies/index.js";
import { DEFAULT_LIBRARY, HsmToken, type PinSource, parsePinSource, useSoftHsm } from "../../hsm/index.js";
import { CliError } from "../cli-error.js";

const HELP = `usage:
  plantroot ceremony enroll --token LABEL --pin SOURCE --id ID --name NAME --roles ROLE[,ROLE] --out FILE
  plantroot ceremony registry --name NAME --out FILE ENTRY.json...
  plantroot ceremony check SCRIPT --registry FILE
  plantroot ceremony dry-run SCRIPT --registry FILE --out FILE [--file inputs/X=PATH]... [--sample NAME=PATH]...
  plantroot ceremony sign-script SCRIPT --registry FILE --dry-run FILE --id ID --as author|reviewer
                                 --token LABEL --pin SOURCE --out FILE
  plantroot ceremony approve REQUEST --id ID --role ROLE --token LABEL --pin SOURCE --out FILE
  plantroot ceremony run SCRIPT --registry FILE --signatures FILE --dry-run FILE --bundle DIR
                         [--pin-shares TOKEN=FILE]... [--operator-pin TOKEN=SOURCE]... [--file inputs/X=PATH]...
                         [--commands FILE] [--library PATH] [--participant-library PATH]
  plantroot ceremony verify BUNDLE [--registry-hash SHA256] [--log-key SHA256] [--json]
  plantroot ceremony install-subca BUNDLE --config FILE [--pin SOURCE] [--registry-hash SHA256] [--log-key SHA256]
                                   [--step ID] [--actor NAME]

ROLE is one of ${ROLES.join(", ")}. SOURCE is file:/path, fd:N (an inherited
file descriptor: root runs \`runuser -u plantroot -- plantroot … --pin fd:3 3</etc/plantroot/credentials/hsm-pin\`),
credential:NAME (under systemd), env:VARIABLE (a literal PIN only for demos and tests).
dry-run always runs on throw-away SoftHSM tokens in a temporary directory, never on a real HSM.
run reads its commands from --commands FILE or, line by line, from standard input; "help" lists them.
verify pins: give the registry hash and ceremony-log key id recorded at the bootstrap ceremony, kept off
the appliance; without them a bundle can only vouch for itself.
install-subca puts the SubCA certificate of a verified bundle (its cert.import step) into the appliance
that \`plantroot serve --config FILE\` runs: the certificate must carry the key on the appliance token, the
files ca.certificates names are written, the CA is started once on them, and the appliance's audit chain
records ceremony.subca-installed (ceremony id, transcript head, certificate SHA-256). Run it while the
appliance is stopped; it is idempotent. The appliance token's PIN comes from the configuration's hsm.pin,
or from --pin (a {"credential"} PIN exists only inside the service).`;

const RUN_HELP = `commands inside "run":
  status                                show every step
  prepare                               prepare the next step: plan, checks, decoded TBS, who must approve
  request FILE                          write the current step's approval request (for "plantroot ceremony approve")
  approve ID ROLE TOKEN PIN             ID approves in ROLE with the key on their own token
  submit FILE                           submit an approval made elsewhere
  share ID TOKEN PIN                    a share holder opens their PIN/KEK share on their own token
  input NAME PATH ID                    ID supplies a document the script takes as {input: NAME}
  attend ID ROLE TOKEN PIN              ID signs the attendance record as ROLE with their own token
  exception STEP ID TOKEN PIN NOTE...   witness ID records a signed exception for a failed or refused STEP
  execute                               run the current step (refused without the quorum)
  finish                                close the transcript with the final HSM-signed checkpoint
  cosign ID ROLE TOKEN PIN              a witness or auditor cosigns the final checkpoint
  seal                                  write the evidence bundle and stop
  abort                                 stop without sealing (the transcript stays on disk)`;

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`${what} ${path} is not valid JSON`);
  }
}

function writeNew(path: string, data: string): void {
  try {
    writeFileSync(path, data, { flag: "wx", mode: 0o640 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "EEXIST" ? `${path} already exists; refusing to overwrite` : `cannot write ${path}: ${code}`,
    );
  }
}

/** NAME=VALUE pairs of a repeated option. */
function pairs(list: string[] | undefined, what: string): Array<[string, string]> {
  return (list ?? []).map((s) => {
    const i = s.indexOf("=");
    if (i <= 0) throw new CliError(`${what} must look like NAME=VALUE, got "${s}"`);
    return [s.slice(0, i), s.slice(i + 1)];
  });
}

function role(s: string): Role {
  if (!(ROLES as readonly string[]).includes(s)) throw new CliError(`unknown role "${s}" (${ROLES.join(", ")})`);
  return s as Role;
}

function openPerson(library: string, id: string, label: string, pin: PinSource): OfficerToken {
  return OfficerToken.open(id, HsmToken.open({ library, label, pin }));
}

/** Opens the participant's token from run-command words ID TOKEN PIN, runs `fn`, and closes the token. */
async function withPerson<T>(
  need: (v: string | undefined, what: string) => string,
  library: string,
  id: string | undefined,
  label: string | undefined,
  pin: string | undefined,
  fn: (who: OfficerToken) => Promise<T> | T,
): Promise<T> {
  const who = openPerson(library, need(id, "ID"), need(label, "TOKEN"), parsePinSource(need(pin, "PIN")));
  try {
    return await fn(who);
  } finally {
    who.token.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      library: { type: "string", default: process.env.PLANTROOT_PKCS11_LIBRARY ?? DEFAULT_LIBRARY },
      "participant-library": { type: "string" },
      token: { type: "string" },
      pin: { type: "string" },
      id: { type: "string" },
      name: { type: "string" },
      roles: { type: "string" },
      role: { type: "string" },
      as: { type: "string" },
      out: { type: "string" },
      registry: { type: "string" },
      signatures: { type: "string", multiple: true },
      "dry-run": { type: "string" },
      bundle: { type: "string" },
      "pin-shares": { type: "string", multiple: true },
      "operator-pin": { type: "string", multiple: true },
      file: { type: "string", multiple: true },
      sample: { type: "string", multiple: true },
      commands: { type: "string" },
      json: { type: "boolean" },
      "registry-hash": { type: "string" },
      "log-key": { type: "string" },
      config: { type: "string" },
      step: { type: "string" },
      actor: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (!sub || values.help || sub === "help" || sub === "--help" || sub === "-h") {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  const need = (v: string | undefined, flag: string): string => {
    if (!v) throw new CliError(`--${flag} is required`);
    return v;
  };
  const participantLibrary = values["participant-library"] ?? values.library;
  switch (sub) {
    case "enroll": {
      const roles = need(values.roles, "roles").split(",").map(role);
      const token = HsmToken.open({
        library: participantLibrary,
        label: need(values.token, "token"),
        pin: parsePinSource(need(values.pin, "pin")),
      });
      try {
        const { entry } = await OfficerToken.enroll(token, {
          id: need(values.id, "id"),
          name: need(values.name, "name"),
          roles,
          shareKey: roles.includes("officer") || roles.includes("custodian"),
        });
        writeNew(need(values.out, "out"), `${JSON.stringify(entry, null, 2)}\n`);
        console.log(
          `enrolled ${entry.id} (${roles.join(", ")}) on token "${entry.token.label}" serial ${entry.token.serial}`,
        );
      } finally {
        token.close();
      }
      return 0;
    }
    case "registry": {
      if (!positionals.length) throw new CliError("give the enrollment entries (JSON files) to assemble");
      const reg = Registry.parse({
        schema: "plantroot/participant-registry/v1",
        name: need(values.name, "name"),
        participants: positionals.map((p) => readJson(p, "enrollment entry")),
      });
      writeNew(need(values.out, "out"), `${canonicalJson(reg.document)}\n`);
      console.log(`registry ${reg.hash}: ${reg.participants.map((p) => `${p.id} (${p.roles.join(",")})`).join(", ")}`);
      return 0;
    }
    case "check": {
      const reg = Registry.parse(readJson(need(values.registry, "registry"), "registry"));
      const loaded = loadScript(readJson(need(positionals[0], "SCRIPT"), "script"), reg);
      console.log(`script ${loaded.script.ceremonyId}: SHA-256 ${loaded.hash}`);
      for (const s of loaded.script.steps)
        console.log(`  ${s.id} (${s.action}) requires ${describeQuorum(loaded.quorum.get(s.id)!, loaded.assignment)}`);
      return 0;
    }
    case "dry-run": {
      if (values.library !== DEFAULT_LIBRARY)
        throw new CliError("the dry run always uses SoftHSM; do not pass --library");
      const sh = useSoftHsm(mkdtempSync(join(tmpdir(), "plantroot-dry-run-hsm-")));
      try {
        const report = await dryRun({
          script: readJson(need(positionals[0], "SCRIPT"), "script"),
          registry: readJson(need(values.registry, "registry"), "registry"),
          library: sh.library,
          files: Object.fromEntries(pairs(values.file, "--file").map(([k, p]) => [k, readFileSync(p)])),
          sampleInputs: Object.fromEntries(pairs(values.sample, "--sample").map(([k, p]) => [k, readFileSync(p)])),
        });
        writeNew(need(values.out, "out"), `${canonicalJson(report)}\n`);
        for (const s of report.steps) {
          console.log(`${s.id} (${s.action}): ${s.status}${s.note ? ` — ${s.note}` : ""}`);
          if (s.tbs)
            console.log(
              s.tbs.lines.map((l) => `    ${l.label}${l.critical ? " [critical]" : ""}: ${l.value}`).join("\n"),
            );
        }
        console.log(`dry-run report SHA-256 ${jcsHash(report)}`);
      } finally {
        sh.cleanup();
      }
      return 0;
    }
    case "sign-script": {
      const reg = Registry.parse(readJson(need(values.registry, "registry"), "registry"));
      const loaded = loadScript(readJson(need(positionals[0], "SCRIPT"), "script"), reg);
      const dry = parseDryRun(readJson(need(values["dry-run"], "dry-run"), "dry-run report"));
      if (dry.scriptHash !== loaded.hash) throw new CliError("the dry-run report is for a different script");
      const capacity = need(values.as, "as");
      if (capacity !== "author" && capacity !== "reviewer") throw new CliError("--as is author or reviewer");
      const who = openPerson(
        participantLibrary,
        need(values.id, "id"),
        need(values.token, "token"),
        parsePinSource(need(values.pin, "pin")),
      );
      try {
        const sig = await signScript(loaded, jcsHash(dry), { person: who.person, sign: (d) => who.sign(d) }, capacity);
        writeNew(need(values.out, "out"), `${JSON.stringify(sig, null, 2)}\n`);
        console.log(`${who.person} signed script ${loaded.hash} as ${capacity}`);
      } finally {
        who.token.close();
      }
      return 0;
    }
    case "approve": {
      const req = readJson(need(positionals[0], "REQUEST"), "approval request") as ApprovalRequest;
      const who = openPerson(
        participantLibrary,
        need(values.id, "id"),
        need(values.token, "token"),
        parsePinSource(need(values.pin, "pin")),
      );
      try {
        const a = await who.approve(req, role(need(values.role, "role")));
        writeNew(need(values.out, "out"), `${JSON.stringify(a, null, 2)}\n`);
        console.log(
          `${who.person} approved step ${req.stepId} (${req.action}) of ${req.ceremonyId}; TBS ${req.tbsHash ?? "none"}`,
        );
      } finally {
        who.token.close();
      }
      return 0;
    }
    case "verify": {
      const r = verifyBundle(need(positionals[0], "BUNDLE"), {
        ...(values["registry-hash"] ? { registryHash: values["registry-hash"] } : {}),
        ...(values["log-key"] ? { logKeyId: values["log-key"] } : {}),
      });
      if (values.json) console.log(JSON.stringify(r, null, 2));
      else {
        for (const c of r.checked) console.log(`ok    ${c}`);
        if (r.ok)
          console.log(
            `VALID ceremony ${r.ceremonyId}: ${r.entries} transcript entries, head ${r.head}${r.completed ? "" : " (ceremony not completed)"}`,
          );
        else console.log(`INVALID: ${r.problem}`);
      }
      return r.ok ? 0 : 1;
    }
    case "run":
      return runCeremony(positionals, values, participantLibrary, need);
    case "install-subca":
      return installSubCa(need(positionals[0], "BUNDLE"), need(values.config, "config"), {
        ...(values["registry-hash"] ? { registryHash: values["registry-hash"] } : {}),
        ...(values["log-key"] ? { logKeyId: values["log-key"] } : {}),
        ...(values.step ? { step: values.step } : {}),
        ...(values.pin ? { pin: parsePinSource(values.pin) } : {}),
        actor: values.actor ?? `operator:${userInfo().username}`,
      });
    default:
      throw new CliError(`unknown ceremony subcommand "${sub}"\n${HELP}`);
  }
}

/** `install-subca`: the verified bundle's SubCA into the appliance `plantroot serve --config FILE` runs. */
async function installSubCa(
  bundle: string,
  configPath: string,
  o: { registryHash?: string; logKeyId?: string; step?: string; pin?: PinSource; actor: string },
): Promise<number> {
  // the appliance side is loaded only for this subcommand (the others run on officers' workstations)
  const [
    { parseCaConfig },
    { checkSubCaFits, installCeremonySubCa, readCeremonySubCa, SUBCA_INSTALLED },
    { checkServeConfig },
    { Db },
    { MIGRATIONS },
  ] = await Promise.all([
    import("../../appliance/ca/config.js"),
    import("../../appliance/install-subca.js"),
    import("../../appliance/serve.js"),
    import("../../appliance/store/db.js"),
    import("../../appliance/store/migrations/index.js"),
  ]);
  const config = checkServeConfig(configPath);
  const subca = readCeremonySubCa(bundle, o);
  console.log(
    `bundle ${subca.bundle} verifies: ceremony ${subca.ceremonyId}, ${subca.transcriptEntries} transcript entries, head ${subca.transcriptHead}`,
  );
  if (!subca.pinned.registry || !subca.pinned.logKey)
    console.log(
      "WARNING: without --registry-hash and --log-key (from the bootstrap ceremony) the bundle only vouches for itself",
    );
  const token = HsmToken.open({
    ...(config.hsm.library ? { library: config.hsm.library } : {}),
    label: config.hsm.token,
    // --pin overrides the configuration's source: {"credential"} exists only inside the service
    pin: o.pin ?? config.hsm.pin,
  });
  try {
    const caConfig = parseCaConfig(config.ca);
    checkSubCaFits(subca, token, caConfig);
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const db = await Db.open(join(config.dataDir, "plantroot.db"), { migrations: MIGRATIONS });
    try {
      const r = await installCeremonySubCa({ subca, token, caConfig, db, actor: o.actor });
      for (const f of r.written) console.log(`wrote ${f}`);
      console.log(
        r.audit
          ? `audit entry ${r.audit.seq} (${SUBCA_INSTALLED}): SubCA ${subca.certificateSha256} from ceremony ${subca.ceremonyId}`
          : `SubCA ${subca.certificateSha256} was already installed and recorded; nothing changed`,
      );
    } finally {
      await db.close();
    }
  } finally {
    token.close();
  }
  return 0;
}

/** What went wrong last with a step: its failure, the last refusal of prepare, or a refusal to execute. */
function lastFailure(session: CeremonySession, stepId: string): { kind: string; message: string } | undefined {
  const v = session.step(stepId);
  if (v.error) return v.error;
  const e = [...session.transcript()]
    .reverse()
    .find((x) => x.step === stepId && (x.action === "step.refused" || x.action === "step.failed"));
  if (!e) return undefined;
  if (v.refused && e.inputs.phase === "prepare") return { kind: v.refused.kind, message: v.refused.message };
  const i = e.inputs as {
    phase?: string;
    unmet?: string[];
    contributed?: string[];
    threshold?: number;
    error?: string;
  };
  if (i.phase === "quorum") return { kind: "quorum-not-met", message: (i.unmet ?? []).join("; ") };
  if (i.phase === "shares")
    return { kind: "secret-sharing", message: `${i.contributed?.length ?? 0} of ${i.threshold} shares were opened` };
  return { kind: "check-failed", message: String(i.error ?? "refused") };
}

function printStep(v: StepView): void {
  console.log(`step ${v.index + 1}: ${v.id} (${v.action}) — ${v.status}`);
  for (const p of v.plan) console.log(`  • ${p}`);
  console.log(`  requires: ${v.requires.description}`);
  if (v.prepared) {
    for (const c of v.prepared.checks) console.log(`  check ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    if (v.prepared.tbs) {
      console.log(`  to be signed (${v.prepared.tbs.kind}), SHA-256 ${v.prepared.tbs.sha256}:`);
      console.log(formatDecoded(v.prepared.tbs).replace(/^/gm, "    "));
    }
    if (v.prepared.shares)
      console.log(
        `  shares: ${v.prepared.shares.contributed.length} of ${v.prepared.shares.threshold} opened (${v.prepared.shares.holders.join(", ")} hold one)`,
      );
  }
  for (const a of v.approvals) console.log(`  approved by ${a.person} as ${a.role} at ${a.time}`);
  for (const r of v.rejections)
    console.log(`  REFUSED approval${r.person ? ` claiming ${r.person}` : ""}: ${r.reason} — ${r.detail}`);
  if (!v.quorum.satisfied && v.prepared) console.log(`  still missing: ${v.quorum.unmet.join("; ")}`);
  if (v.result) for (const o of v.result.outputs) console.log(`  wrote ${o.path} (${o.sha256})`);
  if (v.refused) console.log(`  REFUSED at prepare (${v.refused.kind}) at ${v.refused.time}: ${v.refused.message}`);
  for (const x of v.exceptions)
    console.log(`  EXCEPTION recorded by witness ${x.person} at ${x.time} (${x.failure.kind}): ${x.note}`);
}

async function runCeremony(
  positionals: string[],
  values: Record<string, string | string[] | boolean | undefined>,
  participantLibrary: string,
  need: (v: string | undefined, flag: string) => string,
): Promise<number> {
  const library = values.library as string;
  const signatures = (values.signatures as string[] | undefined) ?? [];
  if (!signatures.length) throw new CliError("--signatures is required (the author's and reviewers' signature files)");
  const pinShares: Record<string, ShareSet> = {};
  for (const [name, path] of pairs(values["pin-shares"] as string[] | undefined, "--pin-shares"))
    pinShares[name] = ShareSetSchema.parse(readJson(path, "PIN share set"));
  const operatorPins: Record<string, PinSource> = {};
  for (const [name, src] of pairs(values["operator-pin"] as string[] | undefined, "--operator-pin"))
    operatorPins[name] = parsePinSource(src);
  const session = await CeremonySession.open({
    script: readJson(need(positionals[0], "SCRIPT"), "script"),
    registry: readJson(need(values.registry as string | undefined, "registry"), "registry"),
    scriptSignatures: signatures.map((p) => readJson(p, "script signature")),
    dryRun: readJson(need(values["dry-run"] as string | undefined, "dry-run"), "dry-run report"),
    bundleDir: need(values.bundle as string | undefined, "bundle"),
    library,
    pinShares,
    operatorPins,
    files: Object.fromEntries(
      pairs(values.file as string[] | undefined, "--file").map(([k, p]) => [k, readFileSync(p)]),
    ),
  });
  console.log(`ceremony ${session.ceremonyId} opened; script ${session.scriptHash}; bundle ${session.dir}`);
  const lines: AsyncIterable<string> = values.commands
    ? (async function* () {
        for (const l of readFileSync(values.commands as string, "utf8").split("\n")) yield l;
      })()
    : createInterface({ input: process.stdin, terminal: false });
  const current = () => {
    const c = session.current();
    if (!c) throw new CliError("every step is done; finish, cosign and seal");
    return c;
  };
  let failed = false;
  for await (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [cmd, ...a] = line.split(/\s+/);
    // PINs are never echoed: the last word of approve/share/cosign/attend, the fourth of exception
    const shown =
      cmd === "exception"
        ? [cmd, ...a.slice(0, 3), "***", ...a.slice(4)].join(" ")
        : ["approve", "share", "cosign", "attend"].includes(cmd!)
          ? line.replace(/\S+$/, "***")
          : line;
    console.log(`> ${shown}`);
    try {
      switch (cmd) {
        case "help":
          console.log(RUN_HELP);
          break;
        case "status":
          for (const s of session.steps()) console.log(`  ${s.status.padEnd(10)} ${s.id} (${s.action})`);
          break;
        case "prepare":
          printStep(await session.prepare(current().id));
          break;
        case "request":
          writeNew(need(a[0], "request FILE"), `${JSON.stringify(session.approvalRequest(current().id), null, 2)}\n`);
          break;
        case "approve": {
          const [id, r, label, pin] = a;
          await withPerson(need, participantLibrary, id, label, pin, async (who) => {
            const step = current().id;
            const res = session.submitApproval(
              step,
              await who.approve(session.approvalRequest(step), role(need(r, "ROLE")), session.now()),
            );
            console.log(res.accepted ? `  accepted: ${id} as ${r}` : `  REFUSED: ${res.reason} — ${res.detail}`);
          });
          break;
        }
        case "submit": {
          const res = session.submitApproval(current().id, readJson(need(a[0], "FILE"), "approval"));
          console.log(res.accepted ? "  accepted" : `  REFUSED: ${res.reason} — ${res.detail}`);
          break;
        }
        case "share": {
          const [id, label, pin] = a;
          await withPerson(need, participantLibrary, id, label, pin, async (who) => {
            const v = session.contributeShare(current().id, who.person, who.ecdh);
            console.log(
              `  ${id} opened a share (${v.prepared?.shares?.contributed.length} of ${v.prepared?.shares?.threshold})`,
            );
          });
          break;
        }
        case "input": {
          const [name, path, id] = a;
          const r = session.provideInput(need(name, "NAME"), readFileSync(need(path, "PATH")), need(id, "ID"));
          console.log(`  ${r.path} (${r.sha256}) supplied by ${id}`);
          break;
        }
        case "execute":
          printStep(await session.execute(current().id));
          break;
        case "attend": {
          const [id, r, label, pin] = a;
          await withPerson(need, participantLibrary, id, label, pin, async (who) => {
            const asRole = role(need(r, "ROLE"));
            const statement = session.attendanceStatement(who.person, asRole);
            const signature = (await who.sign(canonicalBytes(statement))).toString("base64");
            const rec = session.recordAttendance(who.person, asRole, { statement, signature });
            console.log(`  ${id} is present as ${r}: attendance signed (transcript entry ${rec.seq})`);
          });
          break;
        }
        case "exception": {
          const [stepId, id, label, pin, ...words] = a;
          const step = need(stepId, "STEP");
          const note = words.join(" ");
          if (!note) throw new CliError("exception needs a NOTE: what happened and what was decided");
          const failure = lastFailure(session, step);
          if (!failure) throw new CliError(`step ${step} has not failed or been refused`);
          await withPerson(need, participantLibrary, id, label, pin, async (who) => {
            const statement = exceptionStatement(session, step, failure, note, who.person, session.now());
            const signature = (await who.sign(canonicalBytes(statement))).toString("base64");
            printStep(session.recordException(step, who.person, "witness", statement, signature));
          });
          break;
        }
        case "finish": {
          const body = await session.finish();
          console.log(
            `  final checkpoint: ${body.size} entries, head ${body.head}; witnesses and auditors cosign it now`,
          );
          break;
        }
        case "cosign": {
          const [id, r, label, pin] = a;
          await withPerson(need, participantLibrary, id, label, pin, async (who) => {
            const body = await session.finish();
            session.addCosignature(
              who.person,
              role(need(r, "ROLE")),
              (await who.sign(checkpointBytes(body))).toString("base64"),
            );
            console.log(`  ${id} cosigned as ${r}`);
          });
          break;
        }
        case "seal": {
          const s = await session.seal();
          console.log(
            `sealed ${s.dir}: ${s.size} entries, head ${s.head}${s.completed ? "" : " (not every step ran)"}`,
          );
          return failed ? 1 : 0;
        }
        case "abort":
          session.close();
          console.log(`aborted; the transcript so far is in ${session.dir}`);
          return 1;
        default:
          console.log(`  unknown command "${cmd}"; "help" lists the commands`);
      }
    } catch (e) {
      const err = e as Error & { kind?: string };
      if (!err.kind && !(e instanceof CliError)) throw e;
      console.log(`  ERROR${err.kind ? ` (${err.kind})` : ""}: ${err.message}`);
      if (err.kind === "tbs-mismatch" || err.kind === "check-failed" || err.kind === "hsm") failed = true;
    }
  }
  session.close();
  console.log("input ended before seal; the transcript so far stays in the bundle");
  return 1;
}
