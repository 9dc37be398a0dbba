// Every quorum rule violated in turn against a real signing step (the CA key signs a request only
// after approval): the HSM is never asked to sign until a valid quorum approved the exact bytes.
// The counter sits around the engine's signer (SessionOptions.onSign), the HSM is real SoftHSM.
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HsmToken } from "../../hsm/index.js";
import { approvalStatement, signApproval } from "../../ceremonies/approvals.js";
import type { CeremonySession } from "../../ceremonies/engine/session.js";
import type { SignEvent } from "../../ceremonies/engine/types.js";
import { isCeremonyError } from "../../ceremonies/errors.js";
import { OfficerToken } from "../../ceremonies/officer.js";
import { Registry } from "../../ceremonies/registry.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import { closeCast, enrollCast, openSession, type Person } from "../helpers/ceremony.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
let people: Map<string, Person>;
let registry: Awaited<ReturnType<typeof enrollCast>>["registry"];
let session: CeremonySession;
let mallory: OfficerToken;
const signs: SignEvent[] = [];
const tbsSigns = () => signs.filter((s) => s.kind === "tbs").length;
let now = new Date("2026-11-20T09:00:00.000Z");
const Q = "all(admin, witness) and 2 of officers";

beforeAll(async () => {
  ({ people, registry } = await enrollCast(sh));
  sh.createToken("p-mallory", "pin-mallory");
  const mt = HsmToken.open({ library: sh.library, label: "p-mallory", pin: { value: "pin-mallory" } });
  mallory = (await OfficerToken.enroll(mt, { id: "mallory", name: "Mallory", roles: ["officer"], shareKey: true }))
    .officer;
  const script: CeremonyScript = {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-QUORUM-RULES",
    title: "quorum rules",
    registryHash: Registry.parse(registry).hash,
    author: "alice",
    reviewers: ["rita"],
    roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave", "erin"], auditor: ["kim"], custodian: [] },
    approvalTtlSeconds: 600,
    tokens: { root: { label: "quorum-root", access: "quorum" } },
    logToken: "root",
    steps: [
      { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
      { id: "unlock", action: "token.unlock", requires: Q, params: { token: "root" } },
      {
        id: "key",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "ca-1", spec: "P-384", backup: "none" },
      },
      {
        id: "sign",
        action: "csr.create",
        requires: Q,
        params: { token: "root", key: "ca-1", subject: { commonName: "CA 1" }, output: "csrs/ca-1.csr" },
      },
    ],
  };
  session = await openSession(script, registry, people, {
    bundleDir: join(mkdtempSync(join(tmpdir(), "quorum-rules-")), "bundle"),
    library: sh.library,
    clock: () => now,
    onSign: (e) => signs.push(e),
  });
  const AW: Array<[string, "admin" | "witness"]> = [
    ["alice", "admin"],
    ["bob", "witness"],
  ];
  // approvals are dated by the approver's own clock; keep it equal to the engine's here
  const runAt = async (id: string, extra: Array<[string, "officer"]>, shares: string[] = []) => {
    await session.prepare(id);
    const req = session.approvalRequest(id);
    for (const [p, r] of [...AW, ...extra])
      session.submitApproval(id, await people.get(p)!.officer.approve(req, r, now));
    for (const p of shares) session.contributeShare(id, p, people.get(p)!.officer.ecdh);
    await session.execute(id);
  };
  await runAt("init", [
    ["carol", "officer"],
    ["dave", "officer"],
  ]);
  await runAt(
    "unlock",
    [
      ["carol", "officer"],
      ["dave", "officer"],
    ],
    ["carol", "erin"],
  );
  await runAt("key", [
    ["carol", "officer"],
    ["dave", "officer"],
  ]);
  await session.prepare("sign");
});
afterAll(() => {
  session?.close();
  closeCast(people);
  mallory?.token.close();
});

async function tryExecute(): Promise<unknown> {
  try {
    await session.execute("sign");
  } catch (e) {
    return e;
  }
  return undefined;
}

const approval = (id: string, role: "admin" | "witness" | "officer", time = now) =>
  people.get(id)!.officer.approve(session.approvalRequest("sign"), role, time);

describe("the HSM is never asked to sign without a valid quorum", () => {
  it("starts from a prepared step and no signature", () => {
    expect(session.step("sign").status).toBe("collecting");
    expect(tbsSigns()).toBe(0);
  });

  it("too few officers", async () => {
    for (const [p, r] of [
      ["alice", "admin"],
      ["bob", "witness"],
      ["carol", "officer"],
    ] as const)
      expect(session.submitApproval("sign", await approval(p, r)).accepted).toBe(true);
    const err = await tryExecute();
    expect(isCeremonyError(err, "quorum-not-met")).toBe(true);
    expect((err as Error).message).toContain("needs 1 more crypto officer (1 of 2)");
    expect(tbsSigns()).toBe(0);
  });

  it("same officer twice", async () => {
    const r = session.submitApproval("sign", await approval("carol", "officer"));
    expect(r).toMatchObject({ accepted: false, reason: "duplicate" });
    // nor can she count again under another role
    const r2 = session.submitApproval("sign", await approval("carol", "witness"));
    expect(r2.accepted).toBe(false);
    expect(isCeremonyError(await tryExecute(), "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
  });

  it("self-approval: a participant who supplied an input cannot approve it (screened per step)", async () => {
    const { screenApproval } = await import("../../ceremonies/approvals.js");
    const reg = Registry.parse(registry);
    const a = await approval("dave", "officer");
    const exp = { ...session.approvalRequest("sign"), proposers: ["dave"], ttlSeconds: 600 };
    expect(screenApproval(a, exp, reg, session.loaded.assignment, now)).toMatchObject({
      ok: false,
      reason: "self-approval",
    });
    expect(tbsSigns()).toBe(0);
  });

  it("expired approval (too old when submitted, and expiring before execution)", async () => {
    const old = await approval("dave", "officer", new Date(now.getTime() - 601_000));
    expect(session.submitApproval("sign", old)).toMatchObject({ accepted: false, reason: "expired" });
    const future = await approval("dave", "officer", new Date(now.getTime() + 3_600_000));
    expect(session.submitApproval("sign", future)).toMatchObject({ accepted: false, reason: "from-the-future" });
    expect(isCeremonyError(await tryExecute(), "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
  });

  it("approval of different TBS bytes", async () => {
    const req = {
      ...session.approvalRequest("sign"),
      tbsHash: createHash("sha256").update("other bytes").digest("hex"),
    };
    const a = await people.get("dave")!.officer.approve(req, "officer", now);
    expect(session.submitApproval("sign", a)).toMatchObject({ accepted: false, reason: "other-tbs" });
    const inputs = { ...session.approvalRequest("sign"), inputsHash: "0".repeat(64) };
    const b = await people.get("dave")!.officer.approve(inputs, "officer", now);
    expect(session.submitApproval("sign", b)).toMatchObject({ accepted: false, reason: "other-inputs" });
    expect(isCeremonyError(await tryExecute(), "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
  });

  it("forged signature", async () => {
    // erin's token signs a statement in dave's name
    const dave = Registry.parse(registry).require("dave");
    const st = approvalStatement(session.approvalRequest("sign"), { id: "dave", keyId: dave.keyId }, "officer", now);
    const forged = await signApproval(st, people.get("erin")!.officer);
    expect(session.submitApproval("sign", forged)).toMatchObject({ accepted: false, reason: "bad-signature" });
    // a genuine approval whose statement was edited afterwards
    const real = await approval("erin", "officer");
    const edited = {
      ...real,
      statement: { ...real.statement, role: "officer" as const, time: new Date(now.getTime() - 1000).toISOString() },
    };
    expect(session.submitApproval("sign", edited)).toMatchObject({ accepted: false, reason: "bad-signature" });
    // garbage
    expect(session.submitApproval("sign", { statement: {}, signature: "x" })).toMatchObject({
      accepted: false,
      reason: "malformed",
    });
    expect(isCeremonyError(await tryExecute(), "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
  });

  it("unknown officer, and a registered person not assigned as officer", async () => {
    const m = await mallory.approve(session.approvalRequest("sign"), "officer", now);
    expect(session.submitApproval("sign", m)).toMatchObject({ accepted: false, reason: "unknown-approver" });
    // mallory claims to be erin with her own key
    const erin = Registry.parse(registry).require("erin");
    const claim = await signApproval(
      approvalStatement(session.approvalRequest("sign"), { id: "erin", keyId: erin.keyId }, "officer", now),
      mallory,
    );
    expect(session.submitApproval("sign", claim)).toMatchObject({ accepted: false, reason: "bad-signature" });
    const rita = await approval("rita", "officer");
    expect(session.submitApproval("sign", rita)).toMatchObject({ accepted: false, reason: "role-not-held" });
    expect(isCeremonyError(await tryExecute(), "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
  });

  it("an approval valid when given but expired at execution does not count", async () => {
    const erin = await approval("erin", "officer", new Date(now.getTime() - 590_000));
    expect(session.submitApproval("sign", erin).accepted).toBe(true);
    expect(session.step("sign").quorum.satisfied).toBe(true);
    now = new Date(now.getTime() + 20_000);
    const err = await tryExecute();
    expect(isCeremonyError(err, "quorum-not-met")).toBe(true);
    expect(tbsSigns()).toBe(0);
    const refusals = session.transcript().filter((e) => e.step === "sign" && e.action === "step.refused");
    expect(refusals.at(-1)?.inputs.dropped).toEqual(["erin: expired"]);
  });

  it("signs exactly once when a valid quorum approved the exact bytes", async () => {
    // the others' approvals are still fresh (20 s old); dave approves now
    expect(session.submitApproval("sign", await approval("dave", "officer")).accepted).toBe(true);
    // a double click: the second execution is refused while the first runs, never interleaved
    const [first, second] = await Promise.allSettled([session.execute("sign"), session.execute("sign")]);
    expect(first.status).toBe("fulfilled");
    expect(second.status === "rejected" && isCeremonyError(second.reason, "wrong-state")).toBe(true);
    expect(tbsSigns()).toBe(1);
    expect(signs.find((s) => s.kind === "tbs")).toMatchObject({
      stepId: "sign",
      keyLabel: "ca-1",
      sha256: session.approvalRequest("sign").tbsHash,
    });
    const rejected = session.transcript().filter((e) => e.step === "sign" && e.action === "approval.rejected");
    expect(rejected.map((e) => e.inputs.reason)).toEqual([
      "duplicate",
      "role-not-held",
      "expired",
      "from-the-future",
      "other-tbs",
      "other-inputs",
      "bad-signature",
      "bad-signature",
      "malformed",
      "unknown-approver",
      "bad-signature",
      "role-not-held",
    ]);
  });
});
