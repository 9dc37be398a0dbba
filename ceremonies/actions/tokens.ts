// Token actions: initialise a CA token with random PINs split M-of-N among the officers (plus its
// ceremony-log key), and unlock a token by rebuilding its PIN from officers' shares or the operator's source.
import { randomBytes } from "node:crypto";
import { HsmToken, initializeToken, type KeyAttributes, Pkcs11Module, readPin } from "../../hsm/index.js";
import type { Action, CheckResult, Prepared } from "../engine/types.js";
import { CeremonyError } from "../errors.js";
import { canonicalJson, jcsHash } from "../jcs.js";
import { keyIdOf } from "../keys.js";
import type { ScriptStep } from "../script.js";
import { splitSecret } from "../shares.js";
import { attributesPath, check, pem, publicKeyPath, requireChecks } from "./util.js";

type InitStep = Extract<ScriptStep, { action: "token.init" }>;
type UnlockStep = Extract<ScriptStep, { action: "token.unlock" }>;

const CKF_TOKEN_INITIALIZED = 0x400;

export const tokenInit: Action<InitStep> = {
  plan: (s) => [
    `Initialise HSM token "${s.params.token}" with a random user PIN and SO PIN that nobody sees`,
    `Split each PIN ${s.params.threshold}-of-N among the crypto officers, each share sealed to the officer's own token`,
    `Generate the ceremony-log key "${s.params.logKey}" (P-256, sensitive, never extractable) that signs transcript checkpoints`,
    "Log out and forget the PINs: from now on the token opens only when enough officers take part",
  ],

  async prepare(step, env) {
    const decl = env.script.script.tokens[step.params.token]!;
    const slots = Pkcs11Module.get(env.library).slotsWithToken();
    const taken = slots.some((s) => s.getToken().label.trim() === decl.label);
    const free = slots.some((s) => (s.getToken().flags & CKF_TOKEN_INITIALIZED) === 0);
    const officers = env.assigned("officer").map((id) => env.registry.require(id));
    const outputs = [`tokens/${step.params.token}.pin-shares.json`, `tokens/${step.params.token}.so-pin-shares.json`];
    const checks = requireChecks([
      check(
        "token label unused",
        !taken,
        taken ? `a token labelled "${decl.label}" already exists` : `"${decl.label}" is free`,
      ),
      check("free slot", free, free ? "an uninitialised slot is available" : "no uninitialised slot"),
      check("access", decl.access === "quorum", `token "${step.params.token}" is a ${decl.access} token`),
      check(
        "share holders",
        officers.length >= step.params.threshold && officers.every((o) => o.shareKey),
        `${officers.length} officers with share keys for threshold ${step.params.threshold}`,
      ),
      ...outputs.map((o) => check("output path unused", !env.outputExists(o), o)),
    ]);
    return {
      inputs: {
        token: decl.label,
        threshold: step.params.threshold,
        logKey: step.params.logKey,
        officers: officers.map((o) => ({ id: o.id, shareKeyId: keyIdOf(o.shareKey!) })),
      },
      checks,
      proposers: [],
      plan: tokenInit.plan(step),
    };
  },

  async execute(step, _prepared, env) {
    const decl = env.script.script.tokens[step.params.token]!;
    const officers = env.assigned("officer").map((id) => env.registry.require(id));
    const recipients = officers.map((o) => ({ id: o.id, shareKey: o.shareKey! }));
    const userPin = Buffer.from(randomBytes(24).toString("base64url"));
    const soPin = Buffer.from(randomBytes(24).toString("base64url"));
    try {
      initializeToken({
        library: env.library,
        label: decl.label,
        soPin: soPin.toString(),
        userPin: userPin.toString(),
      });
      // logs in once and drops the PIN: nothing keeps it for a re-login
      const token = HsmToken.open({
        library: env.library,
        label: decl.label,
        pin: { value: userPin.toString() },
        keepPin: false,
      });
      let outputs: Array<{ path: string; bytes: Buffer }>;
      let attrs: KeyAttributes;
      let logKeyId: string;
      try {
        const logKey = token.generateKeyPair({ label: step.params.logKey, spec: "P-256" });
        attrs = logKey.attributes();
        logKeyId = keyIdOf(logKey.spki);
        env.adoptLogKey({ token: step.params.token, label: step.params.logKey, keyId: logKeyId });
        const context = `${env.ceremonyId}:${decl.label}`;
        const user = await splitSecret(userPin, {
          purpose: "token-pin",
          subject: decl.label,
          threshold: step.params.threshold,
          recipients,
          context: `token-pin:${context}`,
        });
        const so = await splitSecret(soPin, {
          purpose: "token-so-pin",
          subject: decl.label,
          threshold: step.params.threshold,
          recipients,
          context: `token-so-pin:${context}`,
        });
        env.adoptPinShares(step.params.token, { user, so });
        outputs = [
          { path: `tokens/${step.params.token}.pin-shares.json`, bytes: Buffer.from(`${canonicalJson(user)}\n`) },
          { path: `tokens/${step.params.token}.so-pin-shares.json`, bytes: Buffer.from(`${canonicalJson(so)}\n`) },
          {
            path: publicKeyPath(step.params.token, step.params.logKey),
            bytes: Buffer.from(pem("PUBLIC KEY", logKey.spki)),
          },
          {
            path: attributesPath(step.params.token, step.params.logKey),
            bytes: Buffer.from(`${JSON.stringify(attrs, null, 2)}\n`),
          },
        ];
      } finally {
        token.close();
      }
      const checks = requireChecks([
        check(
          "log key attributes",
          attrs.sensitive && attrs.neverExtractable && attrs.local && !attrs.extractable,
          `log key local=${attrs.local} sensitive=${attrs.sensitive} neverExtractable=${attrs.neverExtractable}`,
        ),
      ]);
      return {
        outputs,
        keyAttributes: [attrs],
        checks,
        summary: {
          token: decl.label,
          serial: tokenSerial(env.library, decl.label),
          logKeyId,
          pinShares: jcsHash(JSON.parse(outputs[0]!.bytes.toString())),
          threshold: step.params.threshold,
          holders: recipients.map((r) => r.id),
        },
      };
    } finally {
      userPin.fill(0);
      soPin.fill(0);
    }
  },
};

function tokenSerial(library: string, label: string): string {
  const slot = Pkcs11Module.get(library)
    .slotsWithToken()
    .find((s) => s.getToken().label.trim() === label);
  return slot ? slot.getToken().serialNumber.trim() : "";
}

export const tokenUnlock: Action<UnlockStep> = {
  plan: (s) => [
    `Open HSM token "${s.params.token}"`,
    "Quorum token: each taking officer opens their PIN share on their own token; the PIN is rebuilt in memory, used to log in, and wiped",
  ],

  async prepare(step, env): Promise<Prepared> {
    const decl = env.script.script.tokens[step.params.token]!;
    const present = Pkcs11Module.get(env.library)
      .slotsWithToken()
      .some((s) => s.getToken().label.trim() === decl.label);
    const checks = requireChecks([
      check("token present", present, present ? `token "${decl.label}" is present` : `no token "${decl.label}"`),
      check(
        "not yet open",
        !env.hasToken(step.params.token),
        `token "${step.params.token}" is not open in this session`,
      ),
    ]);
    if (decl.access === "operator") {
      return {
        inputs: { token: decl.label, access: "operator" },
        checks,
        proposers: [],
        plan: [`Open appliance token "${decl.label}" with the appliance's own PIN source`],
      };
    }
    const shares = env.pinShares(step.params.token);
    return {
      inputs: {
        token: decl.label,
        access: "quorum",
        pinShares: jcsHash(shares),
        threshold: shares.threshold,
        holders: shares.shares.map((s) => s.recipient),
      },
      checks,
      proposers: [],
      shares,
      plan: [
        `Open HSM token "${decl.label}": ${shares.threshold} of ${shares.shares.length} officers (${shares.shares.map((s) => s.recipient).join(", ")}) open their PIN shares on their own tokens`,
        "The PIN is rebuilt in memory only, used to log in, then wiped",
      ],
    };
  },

  async execute(step, _prepared, env) {
    const decl = env.script.script.tokens[step.params.token]!;
    let token: HsmToken;
    let contributors: string[] = [];
    if (decl.access === "operator") {
      token = HsmToken.open({
        library: env.library,
        label: decl.label,
        pin: { value: readPin(env.operatorPin(step.params.token)) },
      });
    } else {
      const c = env.shares;
      if (!c) throw new CeremonyError("wrong-state", "no shares were collected");
      contributors = c.contributors;
      // the rebuilt PIN logs in once and is dropped (no automatic re-login: after a session loss the
      // token refuses with login-required until a new quorum unlocks it); its buffer is zeroed here and
      // again by the collector, which also wipes the opened shares
      token = await c.use((pin) => {
        try {
          return HsmToken.open({
            library: env.library,
            label: decl.label,
            pin: { value: pin.toString("utf8") },
            keepPin: false,
          });
        } finally {
          pin.fill(0);
        }
      });
    }
    const keyAttributes: KeyAttributes[] = [];
    const checks: CheckResult[] = [];
    const outputs: Array<{ path: string; bytes: Buffer }> = [];
    if (decl.logKey) {
      const k = token.findKey(decl.logKey.label);
      const ok = keyIdOf(k.spki) === decl.logKey.keyId;
      checks.push(
        check(
          "log key pinned",
          ok,
          `log key "${decl.logKey.label}" ${ok ? "matches" : "does not match"} the script's keyId`,
        ),
      );
      keyAttributes.push(k.attributes());
      const path = publicKeyPath(step.params.token, decl.logKey.label);
      if (!env.outputExists(path)) outputs.push({ path, bytes: Buffer.from(pem("PUBLIC KEY", k.spki)) });
    }
    try {
      requireChecks(checks);
    } catch (e) {
      token.close();
      throw e;
    }
    env.adoptToken(step.params.token, token);
    const info = token.tokenInfo();
    return {
      outputs,
      keyAttributes,
      checks,
      summary: {
        token: info.label,
        serial: info.serial,
        model: info.model,
        manufacturer: info.manufacturer,
        contributors,
      },
    };
  },
};
