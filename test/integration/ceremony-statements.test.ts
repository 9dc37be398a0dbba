// What participants sign besides approvals, on real SoftHSM tokens: attendance (proved by each
// person's enrolled key, refused when forged, stale, for another ceremony or a role not held), a
// refused `prepare` carried in the StepView until a later prepare succeeds, and a witness's signed
// exception (step.exception) — all in the transcript, the report and checked by the offline verifier,
// which also catches a forged statement the engine was bypassed to record.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derToPem } from "../../appliance/ca/cert-parse.js";
import {
  attendanceStatement,
  type CeremonyScript,
  type CeremonySession,
  canonicalBytes,
  exceptionStatement,
  isCeremonyError,
  Registry,
  type Role,
  verifyBundle,
} from "../../ceremonies/index.js";
import { closeCast, enrollCast, openSession, type Person, sealSession } from "../helpers/ceremony.js";
import { buildCsr } from "../helpers/csr.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
let people: Map<string, Person>;
let registry: Awaited<ReturnType<typeof enrollCast>>["registry"];
let session: CeremonySession;
let work: string;
const now = new Date("2026-11-20T09:00:00.000Z");
const Q = "all(admin, witness) and 2 of officers";
const ROLES = {
  admin: ["alice"],
  witness: ["bob"],
  officer: ["carol", "dave", "erin"],
  auditor: ["kim"],
  custodian: [],
};

function script(id: string, withCerts: boolean): CeremonyScript {
  const steps: CeremonyScript["steps"] = [
    { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
    { id: "unlock", action: "token.unlock", requires: Q, params: { token: "root" } },
  ];
  if (withCerts)
    steps.push(
      {
        id: "key",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "root-1", spec: "P-384", backup: "none" },
      },
      {
        id: "root-cert",
        action: "cert.root",
        requires: Q,
        params: {
          token: "root",
          key: "root-1",
          subject: { commonName: "Statements Root" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2036-01-01T00:00:00.000Z",
          output: "certs/root.pem",
        },
      },
      {
        id: "subca-cert",
        action: "cert.subca",
        requires: Q,
        params: {
          token: "root",
          issuerKey: "root-1",
          issuerCertificate: { step: "root-cert" },
          request: { input: "subca-csr" },
          subject: { commonName: "Statements SubCA" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2028-01-01T00:00:00.000Z",
          permittedDns: ["plant.example"],
          permittedIp: [],
          ekus: ["serverAuth"],
          crlUrl: "http://pki.plant.example/root.crl",
          output: "certs/subca.pem",
        },
      },
    );
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: id,
    title: "statements",
    registryHash: Registry.parse(registry).hash,
    author: "alice",
    reviewers: ["rita"],
    roles: ROLES,
    approvalTtlSeconds: 600,
    tokens: { root: { label: id.toLowerCase().slice(0, 32), access: "quorum" } },
    logToken: "root",
    steps,
  };
}

const AW: Array<[string, Role]> = [
  ["alice", "admin"],
  ["bob", "witness"],
];

async function runStep(s: CeremonySession, id: string, officers: string[], shares: string[] = []) {
  await s.prepare(id);
  const req = s.approvalRequest(id);
  for (const [p, r] of [...AW, ...officers.map((o): [string, Role] => [o, "officer"])]) {
    const res = s.submitApproval(id, await people.get(p)!.officer.approve(req, r, now));
    if (!res.accepted) throw new Error(`${p}: ${res.reason} ${res.detail}`);
  }
  for (const p of shares) s.contributeShare(id, p, people.get(p)!.officer.ecdh);
  await s.execute(id);
}

async function attendanceProof(s: CeremonySession, person: string, role: Role, signer = person, time = now) {
  const statement = attendanceStatement(s, person, role, time);
  const signature = (await people.get(signer)!.officer.sign(canonicalBytes(statement))).toString("base64");
  return { statement, signature };
}

function kindOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isCeremonyError(e) ? `${e.kind}: ${e.message}` : String(e);
  }
  return undefined;
}

beforeAll(async () => {
  ({ people, registry } = await enrollCast(sh));
  work = mkdtempSync(join(tmpdir(), "ceremony-statements-"));
  session = await openSession(script("2026-STATEMENTS", true), registry, people, {
    bundleDir: join(work, "bundle"),
    library: sh.library,
    clock: () => now,
  });
});
afterAll(() => {
  session?.close();
  closeCast(people);
});

describe("attendance", () => {
  it("records each participant's presence proved by their own token", async () => {
    for (const [p, r] of [
      ...AW,
      ["carol", "officer"],
      ["dave", "officer"],
      ["erin", "officer"],
      ["kim", "auditor"],
    ] as Array<[string, Role]>)
      session.recordAttendance(p, r, await attendanceProof(session, p, r));
    expect(session.attendance().map((a) => `${a.person}:${a.role}`)).toEqual([
      "alice:admin",
      "bob:witness",
      "carol:officer",
      "dave:officer",
      "erin:officer",
      "kim:auditor",
    ]);
    expect(session.transcript().filter((e) => e.action === "attendance.recorded")).toHaveLength(6);
  });

  it("refuses forged, stale, foreign and out-of-role proofs and records nothing", async () => {
    const size = session.transcript().length;
    // carol's token signs a statement that claims dave is here
    const forged = await attendanceProof(session, "dave", "officer", "carol");
    expect(kindOf(() => session.recordAttendance("dave", "officer", forged))).toMatch(
      /^bad-approval: dave's attendance signature does not verify/,
    );
    const stale = await attendanceProof(session, "erin", "officer", "erin", new Date(now.getTime() - 3600_000));
    expect(kindOf(() => session.recordAttendance("erin", "officer", stale))).toMatch(
      /older than the approval lifetime/,
    );
    const future = await attendanceProof(session, "erin", "officer", "erin", new Date(now.getTime() + 3600_000));
    expect(kindOf(() => session.recordAttendance("erin", "officer", future))).toMatch(/dated in the future/);
    const other = await attendanceProof(
      { ceremonyId: "2026-OTHER", scriptHash: session.scriptHash } as CeremonySession,
      "erin",
      "officer",
    );
    expect(kindOf(() => session.recordAttendance("erin", "officer", other))).toMatch(/another ceremony/);
    const notHeld = await attendanceProof(session, "carol", "witness");
    expect(kindOf(() => session.recordAttendance("carol", "witness", notHeld))).toMatch(
      /^wrong-state: carol is not a witness of this ceremony/,
    );
    expect(kindOf(() => session.recordAttendance("carol", "officer", { statement: {}, signature: "x" }))).toMatch(
      /malformed/,
    );
    expect(session.transcript().length).toBe(size);
  });
});

describe("a refused prepare and the witness's exception", () => {
  let csr: Buffer;
  beforeAll(async () => {
    const k = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = Buffer.from(k.publicKey.export({ type: "spki", format: "der" }));
    csr = Buffer.from(
      derToPem(buildCsr({ privateKey: k.privateKey, spki, cn: "SubCA request" }), "CERTIFICATE REQUEST"),
    );
  });

  it("refuses an exception before anything failed", async () => {
    const st = exceptionStatement(session, "init", { kind: "x", message: "y" }, "nothing happened", "bob", now);
    const sig = (await people.get("bob")!.officer.sign(canonicalBytes(st))).toString("base64");
    expect(kindOf(() => session.recordException("init", "bob", "witness", st, sig))).toMatch(
      /^wrong-state: step init has not failed or been refused/,
    );
  });

  it("carries the last refusal of prepare in the step view", async () => {
    await runStep(session, "init", ["carol", "dave"]);
    await runStep(session, "unlock", ["carol", "dave"], ["carol", "erin"]);
    await runStep(session, "key", ["dave", "erin"]);
    await runStep(session, "root-cert", ["carol", "erin"]);
    await expect(session.prepare("subca-cert")).rejects.toMatchObject({ kind: "wrong-state" });
    const v = session.step("subca-cert");
    expect(v.status).toBe("ready");
    expect(v.refused).toEqual({
      kind: "wrong-state",
      message: 'input "subca-csr" has not been provided',
      time: now.toISOString(),
    });
    expect(v.prepared).toBeUndefined();
  });

  it("records the witness's signed exception, refusing anyone else's", async () => {
    const refused = session.step("subca-cert").refused!;
    const st = exceptionStatement(
      session,
      "subca-cert",
      refused,
      "The SubCA request was not carried in yet; Carol brings it, then we continue.",
      "bob",
      now,
    );
    const bobSig = (await people.get("bob")!.officer.sign(canonicalBytes(st))).toString("base64");
    const ritaSig = (await people.get("rita")!.officer.sign(canonicalBytes(st))).toString("base64");
    expect(kindOf(() => session.recordException("subca-cert", "carol", "officer", st, bobSig))).toMatch(
      /only a witness/,
    );
    expect(kindOf(() => session.recordException("subca-cert", "bob", "witness", st, ritaSig))).toMatch(
      /^bad-approval: bob's exception signature does not verify/,
    );
    expect(
      kindOf(() => session.recordException("root-cert", "bob", "witness", { ...st, stepId: "root-cert" }, bobSig)),
    ).toMatch(/^bad-approval|^wrong-state/);
    const v = session.recordException("subca-cert", "bob", "witness", st, bobSig);
    expect(v.exceptions).toEqual([
      {
        seq: expect.any(Number),
        person: "bob",
        name: "Bob Witness",
        time: now.toISOString(),
        note: st.note,
        failure: { kind: "wrong-state", message: 'input "subca-csr" has not been provided' },
      },
    ]);
    expect(session.transcript().at(-1)).toMatchObject({ action: "step.exception", person: "bob", role: "witness" });
  });

  it("clears the refusal when prepare succeeds, then runs the step", async () => {
    session.provideInput("subca-csr", csr, "carol");
    const v = await session.prepare("subca-cert");
    expect(v.refused).toBeUndefined();
    expect(v.exceptions).toHaveLength(1);
    // carol supplied the request, so dave and erin approve
    const req = session.approvalRequest("subca-cert");
    for (const [p, r] of [...AW, ["dave", "officer"], ["erin", "officer"]] as Array<[string, Role]>)
      expect(session.submitApproval("subca-cert", await people.get(p)!.officer.approve(req, r, now)).accepted).toBe(
        true,
      );
    expect((await session.execute("subca-cert")).status).toBe("done");
  });

  it("seals a bundle whose attendance and exception the offline verifier checks and the report shows", async () => {
    const sealed = await sealSession(session, people);
    expect(sealed.completed).toBe(true);
    const r = verifyBundle(sealed.dir, { registryHash: Registry.parse(registry).hash });
    expect(r.problem).toBeUndefined();
    expect(r.checked).toContain(
      "signed statements: 6 attendance record(s), 1 witness exception(s), each verified with the signer's enrolled key",
    );
    const report = readFileSync(join(sealed.dir, "report.txt"), "utf8");
    expect(report).toMatch(/^Attendance \(each signed with the person's own token\)$/m);
    expect(report).toMatch(/^ {2}Dave Officer \(dave\) as crypto officer, 2026-11-20T09:00:00.000Z$/m);
    expect(report).toMatch(
      /^ {4}EXCEPTION recorded by witness bob at 2026-11-20T09:00:00.000Z \(wrong-state\): The SubCA request was not carried in yet/m,
    );
  });
});

describe("the verifier checks statements on its own", () => {
  it("names an attendance entry whose signature is not the person's (engine bypassed)", async () => {
    const s = await openSession(script("2026-FORGED", false), registry, people, {
      bundleDir: join(work, "forged"),
      library: sh.library,
      clock: () => now,
    });
    try {
      await runStep(s, "init", ["carol", "dave"]);
      await runStep(s, "unlock", ["carol", "dave"], ["dave", "erin"]);
      // what a buggy or hostile console could write if it went around recordAttendance
      const forged = await attendanceProof(s, "dave", "officer", "carol");
      (s as unknown as { append(e: object): void }).append({
        action: "attendance.recorded",
        step: null,
        person: "dave",
        role: "officer",
        inputs: forged,
      });
      await sealSession(s, people);
    } finally {
      s.close();
    }
    expect(verifyBundle(join(work, "forged")).problem).toMatch(
      /^transcript entry \d+: dave's attendance signature does not verify$/,
    );
  });
});
