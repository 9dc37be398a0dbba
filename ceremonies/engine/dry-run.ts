// Dry run: the script's actions against throw-away SoftHSM tokens, without people, before the day.
// It yields the decoded TBS structures, checks and key attributes reviewers approve with the script.
// No quorum is involved, so this driver never touches a real token: it only makes throw-away ones.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_LIBRARY, type HsmKey, HsmToken, initializeToken } from "../../hsm/index.js";
import { actionFor } from "../actions/index.js";
import { decodeTbs } from "../decode.js";
import { CeremonyError } from "../errors.js";
import { jcsHash, type JsonValue, sha256Hex } from "../jcs.js";
import { Registry } from "../registry.js";
import { type LoadedScript, loadScript, type Ref } from "../script.js";
import type { DryRunReport, DryRunStep } from "./dry-run-report.js";
import type { ActionEnv, ExecEnv, Prepared } from "./types.js";

export interface DryRunOptions {
  script: unknown;
  registry: unknown;
  /** PKCS#11 library holding the throw-away tokens (SoftHSM) */
  library?: string;
  /** bytes of files the script pins, by bundle path */
  files?: Record<string, Buffer>;
  /** sample documents for `{input: name}` refs (they are supplied by people on the day) */
  sampleInputs?: Record<string, Buffer>;
  clock?: () => Date;
}

/** Runs the script against throw-away tokens and returns the report (and removes its scratch files). */
export async function dryRun(opts: DryRunOptions): Promise<DryRunReport> {
  const registry = Registry.parse(opts.registry);
  const real = loadScript(opts.script, registry);
  const library = opts.library ?? DEFAULT_LIBRARY;
  const clock = opts.clock ?? (() => new Date());
  const tag = randomBytes(3).toString("hex");
  const labels: Record<string, string> = {};
  for (const name of Object.keys(real.script.tokens)) labels[name] = `dry-${tag}-${name}`.slice(0, 32);
  // the same script, pointed at throw-away token labels, with no pinned log key
  const loaded: LoadedScript = {
    ...real,
    script: {
      ...real.script,
      tokens: Object.fromEntries(
        Object.entries(real.script.tokens).map(([n, d]) => [n, { label: labels[n]!, access: d.access }]),
      ),
    },
  };
  const scratch = mkdtempSync(join(tmpdir(), "plantroot-dry-run-"));
  const tokens = new Map<string, HsmToken>();
  const pins = new Map<string, string>();
  const outputs = new Map<string, string>();
  const stepOutput = new Map<string, string>();
  const report: DryRunStep[] = [];
  const ensureToken = (name: string): HsmToken => {
    let t = tokens.get(name);
    if (t) return t;
    let pin = pins.get(name);
    if (!pin) {
      pin = randomBytes(12).toString("hex");
      initializeToken({ library, label: labels[name]!, soPin: `${pin}-so`, userPin: pin });
      pins.set(name, pin);
    }
    t = HsmToken.open({ library, label: labels[name]!, pin: { value: pin } });
    tokens.set(name, t);
    return t;
  };
  const readPath = (p: string) => readFileSync(join(scratch, p));
  const resolve = (ref: Ref) => {
    let path: string;
    let bytes: Buffer;
    if ("step" in ref) {
      const p = stepOutput.get(ref.step);
      if (!p) throw new CeremonyError("wrong-state", `step ${ref.step} produced no output in the dry run`);
      path = p;
      bytes = readPath(p);
    } else if ("file" in ref) {
      const b = opts.files?.[ref.file];
      if (!b) throw new CeremonyError("wrong-state", `pinned file ${ref.file} was not given to the dry run`);
      path = ref.file;
      bytes = b;
    } else {
      const b = opts.sampleInputs?.[ref.input];
      if (!b)
        throw new CeremonyError(
          "wrong-state",
          `input "${ref.input}" is supplied on the day; give a sample to simulate`,
        );
      path = `inputs/provided/${ref.input}`;
      bytes = b;
    }
    return { bytes, path, sha256: sha256Hex(bytes) };
  };
  try {
    for (const step of loaded.script.steps) {
      const action = actionFor(step);
      const base: DryRunStep = {
        id: step.id,
        action: step.action,
        status: "simulated",
        note: "",
        plan: action ? action.plan(step as never) : [],
        inputs: {},
        checks: [],
        tbs: null,
        postChecks: [],
        keyAttributes: [],
      };
      if (!action) {
        report.push({ ...base, status: "not-simulated", note: `action ${step.action} is not available in this build` });
        continue;
      }
      if (step.action === "token.init" || step.action === "token.unlock") {
        const t = ensureToken(step.params.token);
        if (step.action === "token.init" && !t.labelExists(step.params.logKey)) {
          const k = t.generateKeyPair({ label: step.params.logKey, spec: "P-256" });
          base.keyAttributes.push(k.attributes() as unknown as Record<string, JsonValue>);
        }
        report.push({
          ...base,
          note:
            step.action === "token.init"
              ? "throw-away token made with a known PIN; on the day the PIN is random and split among the officers"
              : "throw-away token opened with its known PIN; on the day the officers' shares rebuild it",
        });
        continue;
      }
      if (step.action === "backup.recover") {
        report.push({
          ...base,
          status: "not-simulated",
          note: "needs the custodians' own tokens to open the KEK shares",
        });
        continue;
      }
      const env: ActionEnv = {
        ceremonyId: loaded.script.ceremonyId,
        stepId: step.id,
        script: loaded,
        registry,
        library,
        now: clock,
        token: (name) => ensureToken(name),
        hasToken: (name) => tokens.has(name),
        resolve,
        outputExists: (p) => outputs.has(p) || existsSync(join(scratch, p)),
        pinShares: () => {
          throw new CeremonyError("wrong-state", "no PIN shares in a dry run");
        },
        operatorPin: () => {
          throw new CeremonyError("wrong-state", "no operator PINs in a dry run");
        },
        assigned: (role) => [...loaded.assignment[role]],
      };
      let prepared: Prepared;
      try {
        prepared = await action.prepare(step as never, env);
      } catch (e) {
        report.push({
          ...base,
          status: "not-simulated",
          note: `prepare failed in the dry run: ${(e as Error).message}`,
        });
        continue;
      }
      const tbsHash = prepared.tbs ? sha256Hex(prepared.tbs.der) : null;
      const exec: ExecEnv = {
        ...env,
        shares: undefined,
        async signTbs(key: HsmKey, der, alg) {
          if (sha256Hex(der) !== tbsHash)
            throw new CeremonyError("tbs-mismatch", "rebuilt TBS differs from the prepared one");
          return key.sign(der, alg);
        },
        signOther: (_k, key, data) => key.sign(data),
        adoptToken: () => {},
        adoptPinShares: () => {},
        adoptLogKey: () => {},
      };
      const item: DryRunStep = {
        ...base,
        plan: prepared.plan,
        inputs: prepared.inputs,
        checks: prepared.checks,
        tbs: prepared.tbs
          ? (() => {
              const d = decodeTbs(prepared.tbs.kind, prepared.tbs.der);
              return { kind: d.kind, sha256: d.sha256, lines: d.lines };
            })()
          : null,
      };
      try {
        const ex = await action.execute(step as never, prepared, exec);
        for (const o of ex.outputs) {
          const abs = join(scratch, o.path);
          mkdirSync(dirname(abs), { recursive: true });
          writeFileSync(abs, o.bytes);
          outputs.set(o.path, sha256Hex(o.bytes));
        }
        if (ex.outputs[0]) stepOutput.set(step.id, ex.outputs[0].path);
        item.postChecks = ex.checks;
        item.keyAttributes = ex.keyAttributes as unknown as Array<Record<string, JsonValue>>;
      } catch (e) {
        item.status = "not-simulated";
        item.note = `execution failed in the dry run: ${(e as Error).message}`;
      }
      report.push(item);
    }
  } finally {
    for (const t of tokens.values()) t.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  return {
    schema: "plantroot/ceremony-dry-run/v1",
    ceremonyId: real.script.ceremonyId,
    scriptHash: real.hash,
    time: clock().toISOString(),
    environment: {
      library,
      note: "throw-away tokens; keys, serial numbers and signatures differ on the day, profiles and checks do not",
      tokens: labels,
    },
    steps: report,
  };
}

export function dryRunHash(report: DryRunReport): string {
  return jcsHash(report);
}
