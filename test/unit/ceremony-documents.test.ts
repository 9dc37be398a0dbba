// Pure parts of ceremonies: RFC 8785 canonical JSON, the registry and script schemas (strict, with
// the checks made before the day), approval statements and their screening, Shamir share envelopes.
// Keys here are software keys standing in for tokens; the SoftHSM versions are in test/integration.
import { diffieHellman, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { approvalStatement, screenApproval, signApproval } from "../../ceremonies/approvals.js";
import { isCeremonyError } from "../../ceremonies/errors.js";
import { canonicalBytes, canonicalJson } from "../../ceremonies/jcs.js";
import { enrollmentStatement, type ParticipantEntry, Registry } from "../../ceremonies/registry.js";
import type { Role } from "../../ceremonies/roles.js";
import { type CeremonyScript, loadScript } from "../../ceremonies/script.js";
import { openShare, ShareCollector, splitSecret } from "../../ceremonies/shares.js";

describe("RFC 8785 canonical JSON", () => {
  it("matches the RFC's sample (numbers, escapes, literals)", () => {
    const v = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(v)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts keys by UTF-16 code units (RFC 8785 3.2.3)", () => {
    const v = { "\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\ud83d\ude00": 5, "\u0080": 6, "\u00f6": 7 };
    expect(Object.keys(JSON.parse(canonicalJson(v)))).toEqual([
      "1",
      "\r",
      "\u0080",
      "\u00f6",
      "\u20ac",
      "\ud83d\ude00",
      "\ufb33",
    ]);
    expect(canonicalJson(v).indexOf('"\\r"')).toBe(1);
  });

  it("refuses what JSON cannot say exactly", () => {
    for (const bad of [
      { a: undefined },
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: new Date(0) },
      { a: 1n },
    ])
      expect(() => canonicalJson(bad)).toThrow(/canonical JSON/);
  });

  it("is a fixed point: parse(canonical) re-canonicalises to the same bytes", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalJson(v);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
      }),
    );
  });
});

// ---- a registry of software keys ----

interface SoftPerson {
  id: string;
  roles: Role[];
  approval: { publicKey: KeyObject; privateKey: KeyObject };
  share?: { publicKey: KeyObject; privateKey: KeyObject };
}

const b64spki = (k: KeyObject) => Buffer.from(k.export({ type: "spki", format: "der" })).toString("base64");
const ec = () => generateKeyPairSync("ec", { namedCurve: "P-256" });

function person(id: string, roles: Role[]): SoftPerson {
  return {
    id,
    roles,
    approval: ec(),
    ...(roles.includes("officer") || roles.includes("custodian") ? { share: ec() } : {}),
  };
}

function entry(p: SoftPerson, overrides: Partial<ParticipantEntry> = {}): ParticipantEntry {
  const unsigned = {
    id: p.id,
    name: p.id.toUpperCase(),
    roles: p.roles,
    approvalKey: b64spki(p.approval.publicKey),
    shareKey: p.share ? b64spki(p.share.publicKey) : null,
    token: { label: `p-${p.id}`, serial: "0001" },
    enrolledAt: "2026-11-01T00:00:00.000Z",
    ...overrides,
  };
  const proof = sign("sha256", canonicalBytes(enrollmentStatement(unsigned)), p.approval.privateKey).toString("base64");
  return { ...unsigned, proof };
}

const people = [
  person("alice", ["admin"]),
  person("bob", ["witness"]),
  person("carol", ["officer"]),
  person("dave", ["officer"]),
  person("erin", ["officer"]),
  person("kim", ["auditor"]),
  person("rita", ["witness", "custodian"]),
];
const P = Object.fromEntries(people.map((x) => [x.id, x]));
const regDoc = { schema: "plantroot/participant-registry/v1", name: "unit", participants: people.map((x) => entry(x)) };
const registry = Registry.parse(regDoc);

describe("participant registry", () => {
  it("accepts valid enrollments and names the first bad one", () => {
    expect(registry.participants.map((x) => x.id)).toEqual(people.map((x) => x.id));
    const bad = (participants: unknown[]) => {
      try {
        Registry.parse({ ...regDoc, participants });
      } catch (e) {
        expect(isCeremonyError(e, "bad-registry")).toBe(true);
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(bad([...regDoc.participants, regDoc.participants[0]])).toMatch(/listed twice/);
    expect(bad([{ ...regDoc.participants[0], name: "Mallory" }])).toMatch(
      /enrollment proof of "alice" does not verify/,
    );
    expect(bad([entry(person("x", ["admin", "officer"]))])).toMatch(/cannot be both admin and officer/);
    expect(bad([entry({ ...P.carol!, share: undefined })])).toMatch(/is a officer and needs a share key/);
    expect(bad([{ ...regDoc.participants[0], extra: 1 }])).toMatch(/Unrecognized key: "extra"/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    expect(bad([entry({ ...P.alice!, approval: rsa })])).toMatch(/must be an EC P-256 key/);
    const twin = entry({ ...P.dave!, id: "dave2", approval: P.dave!.approval });
    expect(bad([regDoc.participants[3], twin])).toMatch(/reuses a key/);
  });
});

// ---- scripts ----

const Q = "all(admin, witness) and 2 of officers";
function script(over: Partial<CeremonyScript> = {}): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "UNIT-1",
    title: "unit",
    registryHash: registry.hash,
    author: "alice",
    reviewers: ["bob"],
    roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave", "erin"], auditor: ["kim"], custodian: [] },
    approvalTtlSeconds: 600,
    tokens: { root: { label: "root", access: "quorum" } },
    logToken: "root",
    steps: [
      { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
      { id: "unlock", action: "token.unlock", requires: Q, params: { token: "root" } },
      {
        id: "key",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "k", spec: "P-384", backup: "none" },
      },
    ],
    ...over,
  };
}

function scriptError(s: unknown): string {
  try {
    loadScript(s, registry);
  } catch (e) {
    expect(isCeremonyError(e, "bad-script")).toBe(true);
    return (e as Error).message;
  }
  return "accepted";
}

describe("script checks before the day", () => {
  it("accepts a sound script and hashes it canonically", () => {
    const a = loadScript(script(), registry);
    const b = loadScript(JSON.parse(JSON.stringify(script())), registry);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(loadScript(script({ title: "other" }), registry).hash);
  });

  it("rejects unknown keys anywhere", () => {
    expect(scriptError({ ...script(), extra: true })).toMatch(/Unrecognized key: "extra"/);
    const s = script();
    (s.steps[2]!.params as Record<string, unknown>).colour = "red";
    expect(scriptError(s)).toMatch(/Unrecognized key: "colour"/);
    expect(scriptError({ ...script(), steps: [{ id: "x", action: "shell.run", requires: Q, params: {} }] })).toMatch(
      /action/,
    );
  });

  it("key.generate makes a P-384 key unless the script names another spec (RSA-4096 for an RSA root)", () => {
    const withSpec = (spec: unknown) => {
      const s = script() as unknown as { steps: Array<{ params: Record<string, unknown> }> };
      if (spec === undefined) delete s.steps[2]!.params.spec;
      else s.steps[2]!.params.spec = spec;
      return s;
    };
    const dflt = loadScript(withSpec(undefined), registry);
    const step = dflt.script.steps[2]!;
    expect(step.action === "key.generate" && step.params.spec).toBe("P-384");
    // the default is part of what the hash (and so every signature over the script) covers
    expect(dflt.hash).toBe(loadScript(withSpec("P-384"), registry).hash);
    const rsa = loadScript(withSpec("RSA-4096"), registry);
    expect(rsa.script.steps[2]!.action === "key.generate" && rsa.script.steps[2]!.params.spec).toBe("RSA-4096");
    expect(rsa.hash).not.toBe(dflt.hash);
    // still strict: an unknown spec, a null spec and unknown keys next to a defaulted spec are refused
    expect(scriptError(withSpec("RSA-1024"))).toMatch(/spec/);
    expect(scriptError(withSpec(null))).toMatch(/spec/);
    const extra = withSpec(undefined);
    extra.steps[2]!.params.curve = "P-521";
    expect(scriptError(extra)).toMatch(/Unrecognized key: "curve"/);
  });

  it("rejects broken structure, roles and requirements", () => {
    const t = script();
    expect(scriptError({ ...t, registryHash: "0".repeat(64) })).toMatch(/different participant registry/);
    expect(scriptError({ ...t, reviewers: ["alice"] })).toMatch(/author cannot review/);
    expect(scriptError({ ...t, roles: { ...t.roles, officer: ["carol", "kim"] } })).toMatch(
      /"kim" is not enrolled as officer/,
    );
    expect(scriptError({ ...t, roles: { ...t.roles, witness: ["rita"], custodian: ["rita"] } })).toBe("accepted");
    expect(scriptError({ ...t, roles: { ...t.roles, officer: ["carol"] } })).toMatch(
      /cannot be met by the people assigned/,
    );
    expect(scriptError({ ...t, steps: [...t.steps, { ...t.steps[2]!, id: "init" }] })).toMatch(/used twice/);
    expect(
      scriptError({
        ...t,
        steps: [{ ...t.steps[0]!, requires: "2 of officers or" }],
      }),
    ).toMatch(/step init: expected a requirement/);
    expect(
      scriptError({
        ...t,
        steps: [
          ...t.steps,
          {
            id: "cert",
            action: "cert.import",
            requires: Q,
            params: {
              token: "root",
              key: "k",
              certificate: { step: "later" },
              issuerCertificate: { step: "key" },
              output: "x.pem",
            },
          },
        ],
      }),
    ).toMatch(/refers to "later", which is not an earlier step/);
    expect(
      scriptError({
        ...t,
        steps: [
          ...t.steps,
          {
            id: "csr",
            action: "csr.create",
            requires: Q,
            params: { token: "root", key: "k", subject: { commonName: "x" }, output: "transcript.jsonl" },
          },
        ],
      }),
    ).toMatch(/reserved bundle path/);
    expect(
      scriptError({ ...t, steps: [{ ...t.steps[0]!, params: { token: "root", threshold: 4, logKey: "log" } }] }),
    ).toMatch(/threshold 4 exceeds the 3 officers/);
    expect(scriptError({ ...t, tokens: { root: { label: "root", access: "operator" } } })).toMatch(
      /must be a quorum token/,
    );
  });
});

// ---- approvals ----

describe("approval screening", () => {
  const req = {
    ceremonyId: "UNIT-1",
    scriptHash: "a".repeat(64),
    stepId: "key",
    action: "key.generate",
    inputsHash: "b".repeat(64),
    tbsHash: "c".repeat(64),
  };
  const exp = { ...req, proposers: ["erin"], ttlSeconds: 600 };
  const now = new Date("2026-11-20T10:00:00.000Z");
  const assignment = loadScript(script(), registry).assignment;
  const signer = (p: SoftPerson) => ({ sign: async (d: Buffer) => sign("sha256", d, p.approval.privateKey) });
  const make = (id: string, role: Role, time = now, r = req) =>
    signApproval(approvalStatement(r, { id, keyId: registry.require(id).keyId }, role, time), signer(P[id]!));

  it("accepts a fresh approval bound to the exact TBS hash", async () => {
    expect(screenApproval(await make("carol", "officer"), exp, registry, assignment, now)).toMatchObject({ ok: true });
  });

  it("names every kind of refusal", async () => {
    const reason = async (a: unknown, counted: never[] = []) => {
      const r = screenApproval(a, exp, registry, assignment, now, counted);
      return r.ok ? "ok" : r.reason;
    };
    expect(await reason(await make("erin", "officer"))).toBe("self-approval");
    expect(await reason(await make("carol", "officer", new Date(now.getTime() - 601_000)))).toBe("expired");
    expect(await reason(await make("carol", "officer", new Date(now.getTime() + 121_000)))).toBe("from-the-future");
    expect(await reason(await make("carol", "officer", now, { ...req, tbsHash: "d".repeat(64) }))).toBe("other-tbs");
    expect(await reason(await make("carol", "officer", now, { ...req, stepId: "other" }))).toBe("other-step");
    expect(await reason(await make("carol", "officer", now, { ...req, ceremonyId: "UNIT-2" }))).toBe("other-ceremony");
    expect(await reason(await make("carol", "witness"))).toBe("role-not-held");
    expect(await reason(await make("rita", "witness"))).toBe("role-not-held"); // enrolled, not assigned here
    const first = await make("carol", "officer");
    expect(await reason(await make("carol", "officer"), [first] as never[])).toBe("duplicate");
    const forged = await signApproval(
      approvalStatement(req, { id: "carol", keyId: registry.require("carol").keyId }, "officer", now),
      signer(P.dave!),
    );
    expect(await reason(forged)).toBe("bad-signature");
    const wrongKey = await signApproval(
      approvalStatement(req, { id: "carol", keyId: registry.require("dave").keyId }, "officer", now),
      signer(P.carol!),
    );
    expect(await reason(wrongKey)).toBe("unknown-key");
    const stranger = await signApproval(
      approvalStatement(req, { id: "zed", keyId: "e".repeat(64) }, "officer", now),
      signer(P.carol!),
    );
    expect(await reason(stranger)).toBe("unknown-approver");
    expect(await reason({ ...first, extra: 1 })).toBe("malformed");
  });

  it("any edit of a signed statement breaks it", async () => {
    const a = await make("dave", "officer");
    const fields = ["ceremonyId", "scriptHash", "stepId", "action", "inputsHash", "tbsHash", "time"] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), async (f) => {
        const v = a.statement[f];
        const changed =
          f === "time" ? "2026-11-20T09:59:59.000Z" : /^[0-9a-f]{64}$/.test(String(v)) ? "f".repeat(64) : `${v}x`;
        const edited = { ...a, statement: { ...a.statement, [f]: changed } };
        const r = screenApproval(
          edited,
          { ...exp, [f === "time" ? "ttlSeconds" : f]: f === "time" ? 600 : changed },
          registry,
          assignment,
          now,
        );
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.reason).toBe("bad-signature");
      }),
    );
  });
});

// ---- shares ----

describe("share envelopes and M-of-N rebuild", () => {
  const holders = ["carol", "dave", "erin"].map((id) => ({ id, shareKey: P[id]!.share!.publicKey }));
  const ecdhOf = (id: string) => (eph: KeyObject) =>
    diffieHellman({ privateKey: P[id]!.share!.privateKey, publicKey: eph });
  const secret = Buffer.from("correct horse battery staple 42");

  it("needs the threshold of distinct holders, then yields the secret once and wipes it", async () => {
    const set = await splitSecret(secret, {
      purpose: "token-pin",
      subject: "root",
      threshold: 2,
      recipients: holders,
      context: "t",
    });
    const c = new ShareCollector(set);
    c.contribute("dave", ecdhOf("dave"));
    expect(() => c.contribute("dave", ecdhOf("dave"))).toThrow(/already contributed/);
    await expect(c.use(() => 1)).rejects.toThrow(/1 of 2 required shares/);
    c.contribute("erin", ecdhOf("erin"));
    let seen: Buffer | undefined;
    const out = await c.use((s) => {
      seen = s;
      return s.toString();
    });
    expect(out).toBe(secret.toString());
    expect(seen!.every((b) => b === 0)).toBe(true);
    expect(c.contributors).toEqual([]);
  });

  it("refuses a tampered envelope, a share opened with another key and a mixed rebuild", async () => {
    const set = await splitSecret(secret, {
      purpose: "token-pin",
      subject: "root",
      threshold: 2,
      recipients: holders,
      context: "t",
    });
    const env = set.shares[0]!;
    expect(() => openShare(env, ecdhOf("dave"))).toThrow(/does not open/);
    expect(() => openShare({ ...env, context: "other" }, ecdhOf("carol"))).toThrow(/does not open/);
    const ct = Buffer.from(env.ciphertext, "base64");
    ct[0]! ^= 1;
    expect(() => openShare({ ...env, ciphertext: ct.toString("base64") }, ecdhOf("carol"))).toThrow(/does not open/);
    // shares of another split of another secret do not combine into either
    const other = await splitSecret(Buffer.from("another horse battery staple 43"), {
      purpose: "token-pin",
      subject: "root",
      threshold: 2,
      recipients: holders,
      context: "t",
    });
    const mixed = new ShareCollector({ ...set, shares: [set.shares[0]!, other.shares[1]!, set.shares[2]!] });
    mixed.contribute("carol", ecdhOf("carol"));
    mixed.contribute("dave", ecdhOf("dave"));
    await expect(mixed.use(() => 1)).rejects.toThrow(/does not match its check value/);
    await expect(
      splitSecret(secret, { purpose: "token-pin", subject: "root", threshold: 4, recipients: holders, context: "t" }),
    ).rejects.toThrow(/threshold 4/);
  });
});
