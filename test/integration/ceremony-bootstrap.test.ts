// A bootstrap ceremony on real SoftHSM tokens (CA token + one token per participant): registry
// confirmation, CA token initialisation with the PIN split 2-of-3 among officers, unlock only by a
// quorum of shares, key generation with and without backup, a CSR, wrap + split among custodians,
// and recovery into a second token proven by a signature.
import { createPublicKey, verify } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HsmToken } from "../../hsm/index.js";
import type { CeremonySession } from "../../ceremonies/engine/session.js";
import type { SignEvent } from "../../ceremonies/engine/types.js";
import { isCeremonyError } from "../../ceremonies/errors.js";
import { canonicalBytes, sha256Hex } from "../../ceremonies/jcs.js";
import { parseCsr } from "../../ceremonies/pkix.js";
import type { Role } from "../../ceremonies/roles.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import { ShareSetSchema } from "../../ceremonies/shares.js";
import { verifyBundle } from "../../ceremonies/verify.js";
import { closeCast, enrollCast, openSession, type Person, runStep, sealSession } from "../helpers/ceremony.js";
import { openssl, testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
let people: Map<string, Person>;
let registry: Awaited<ReturnType<typeof enrollCast>>["registry"];
let work: string;

beforeAll(async () => {
  ({ people, registry } = await enrollCast(sh));
  work = mkdtempSync(join(tmpdir(), "ceremony-boot-"));
});
afterAll(() => closeCast(people));

const ADMIN_WITNESS_2 = "all(admin, witness) and 2 of officers";

function bootScript(registryHash: string): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-BOOT-1",
    title: "HSM initialisation, registry confirmation, key backup drill",
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: {
      admin: ["alice"],
      witness: ["bob"],
      officer: ["carol", "dave", "erin"],
      auditor: ["kim"],
      custodian: ["frank", "grace", "heidi"],
    },
    approvalTtlSeconds: 3600,
    tokens: {
      root: { label: "plantroot-root", access: "quorum" },
      spare: { label: "plantroot-spare", access: "quorum" },
    },
    logToken: "root",
    steps: [
      {
        id: "confirm-registry",
        action: "registry.confirm",
        requires: "all(admin, witness, officers, auditor, custodians)",
        params: {},
      },
      {
        id: "init-root",
        action: "token.init",
        requires: ADMIN_WITNESS_2,
        params: { token: "root", threshold: 2, logKey: "ceremony-log" },
      },
      {
        id: "init-spare",
        action: "token.init",
        requires: ADMIN_WITNESS_2,
        params: { token: "spare", threshold: 2, logKey: "spare-log" },
      },
      { id: "unlock-root", action: "token.unlock", requires: ADMIN_WITNESS_2, params: { token: "root" } },
      {
        id: "root-key",
        action: "key.generate",
        requires: ADMIN_WITNESS_2,
        params: { token: "root", label: "root-g1", spec: "P-384", backup: "wrap" },
      },
      {
        id: "fixed-key",
        action: "key.generate",
        requires: ADMIN_WITNESS_2,
        params: { token: "root", label: "fixed-1", spec: "P-256", backup: "none" },
      },
      {
        id: "root-csr",
        action: "csr.create",
        requires: ADMIN_WITNESS_2,
        params: {
          token: "root",
          key: "root-g1",
          subject: { commonName: "Plant Nord Root G1", country: "DE" },
          output: "csrs/root-g1.csr",
        },
      },
      {
        id: "backup",
        action: "backup.wrap",
        requires: "all(admin, witness) and 2 of custodians",
        params: { token: "root", key: "root-g1", threshold: 2, output: "backup/root-g1.json" },
      },
      { id: "unlock-spare", action: "token.unlock", requires: ADMIN_WITNESS_2, params: { token: "spare" } },
      {
        id: "recover",
        action: "backup.recover",
        requires: "all(admin, witness) and 2 of custodians",
        params: { token: "spare", key: "root-g1", backup: { step: "backup" }, output: "backup/root-g1.recovery.json" },
      },
    ],
  };
}

describe("bootstrap ceremony", () => {
  let session: CeremonySession;
  const signs: SignEvent[] = [];
  const AW: Array<[string, "admin" | "witness" | "officer" | "custodian"]> = [
    ["alice", "admin"],
    ["bob", "witness"],
  ];

  it("opens only with a signed script and dry run", async () => {
    const { Registry } = await import("../../ceremonies/registry.js");
    const script = bootScript(Registry.parse(registry).hash);
    session = await openSession(script, registry, people, {
      bundleDir: join(work, "boot"),
      library: sh.library,
      onSign: (e) => signs.push(e),
    });
    expect(session.steps().map((s) => s.status)).toEqual(["ready", ...Array(9).fill("waiting")]);
    expect(session.step("init-root").requires.description).toBe(
      "the ceremony administrator (alice) and the internal witness (bob) and 2 of the 3 crypto officers (carol, dave, erin)",
    );
  });

  it("confirms the registry with every participant's token", async () => {
    await runStep(session, "confirm-registry", people, [
      ...AW,
      ["carol", "officer"],
      ["dave", "officer"],
      ["erin", "officer"],
      ["kim", "auditor"],
      ["frank", "custodian"],
      ["grace", "custodian"],
      ["heidi", "custodian"],
    ]);
    expect(session.step("confirm-registry").status).toBe("done");
  });

  it("initialises the CA token with a PIN nobody knows, split 2-of-3 among officers", async () => {
    await runStep(session, "init-root", people, [...AW, ["carol", "officer"], ["erin", "officer"]]);
    await runStep(session, "init-spare", people, [...AW, ["carol", "officer"], ["erin", "officer"]]);
    const shares = ShareSetSchema.parse(
      JSON.parse(readFileSync(join(session.dir, "tokens/root.pin-shares.json"), "utf8")),
    );
    expect(shares.threshold).toBe(2);
    expect(shares.shares.map((s) => s.recipient)).toEqual(["carol", "dave", "erin"]);
    // the token exists and is initialised, but this process holds no open session on it
    expect(session.step("init-root").result?.keyAttributes[0]).toMatchObject({ neverExtractable: true, local: true });
    expect(signs).toEqual([]); // no checkpoint yet: the log token is locked again
  });

  it("cannot log in without a quorum of shares", async () => {
    await session.prepare("unlock-root");
    const { approve } = await import("../helpers/ceremony.js");
    await approve(session, "unlock-root", people, [...AW, ["carol", "officer"], ["dave", "officer"]]);
    session.contributeShare("unlock-root", "dave", people.get("dave")!.officer.ecdh);
    // a custodian holds no PIN share, and a share opened on the wrong token does not decrypt
    expect(() => session.contributeShare("unlock-root", "frank", people.get("frank")!.officer.ecdh)).toThrow(
      /holds no share/,
    );
    expect(() => session.contributeShare("unlock-root", "carol", people.get("erin")!.officer.ecdh)).toThrow(
      /does not open/,
    );
    let err: unknown;
    try {
      await session.execute("unlock-root");
    } catch (e) {
      err = e;
    }
    expect(isCeremonyError(err, "secret-sharing")).toBe(true);
    expect(() => session.approvalRequest("unlock-root")).not.toThrow();
    // nothing opened: the next step cannot reach the token
    expect(session.step("root-key").status).toBe("waiting");
    session.contributeShare("unlock-root", "erin", people.get("erin")!.officer.ecdh);
    await session.execute("unlock-root");
    expect(session.step("unlock-root").result?.summary.contributors).toEqual(["dave", "erin"]);
    expect(signs.map((s) => s.kind)).toEqual(["checkpoint"]);
    // the rebuilt PIN logged in once and was dropped: the open token holds none for a re-login
    // (later steps still sign with it: the key generation, the CSR and every checkpoint below)
    const open = (session as unknown as { tokens: Map<string, HsmToken> }).tokens;
    expect(open.get("root")?.holdsPin).toBe(false);
  });

  it("generates keys and records what the HSM says about extractability", async () => {
    await runStep(session, "root-key", people, [...AW, ["carol", "officer"], ["dave", "officer"]]);
    await runStep(session, "fixed-key", people, [...AW, ["carol", "officer"], ["dave", "officer"]]);
    expect(session.step("root-key").result?.keyAttributes[0]).toMatchObject({
      extractable: true,
      neverExtractable: false,
      sensitive: true,
      keyType: "P-384",
    });
    expect(session.step("fixed-key").result?.keyAttributes[0]).toMatchObject({
      extractable: false,
      neverExtractable: true,
      local: true,
    });
  });

  it("signs a CSR only for the approved request bytes", async () => {
    await session.prepare("root-csr");
    const view = session.step("root-csr");
    expect(view.prepared?.tbs?.kind).toBe("csr");
    expect(view.prepared?.tbs?.lines.find((l) => l.label === "Subject")?.value).toBe("C=DE, CN=Plant Nord Root G1");
    const { approve } = await import("../helpers/ceremony.js");
    await approve(session, "root-csr", people, [...AW, ["dave", "officer"], ["erin", "officer"]]);
    await session.execute("root-csr");
    const pem = readFileSync(join(session.dir, "csrs/root-g1.csr"));
    const csr = parseCsr(Buffer.from(pem.toString().replace(/-----[^-]+-----|\s/g, ""), "base64"));
    // the request the key signed is exactly the one the quorum approved (and the bundle kept as tbs/)
    expect(sha256Hex(csr.infoDer)).toBe(view.prepared?.request.tbsHash);
    expect(readFileSync(join(session.dir, "tbs/root-csr.der")).equals(csr.infoDer)).toBe(true);
    expect(openssl(["req", "-in", join(session.dir, "csrs/root-g1.csr"), "-verify", "-noout"], undefined)).toBe("");
    expect(signs.filter((s) => s.kind === "tbs").map((s) => s.keyLabel)).toEqual(["root-g1"]);
  });

  it("backs the key up under an HSM-made KEK split among custodians, and recovers it into a second token", async () => {
    await runStep(session, "backup", people, [...AW, ["frank", "custodian"], ["heidi", "custodian"]]);
    const backup = JSON.parse(readFileSync(join(session.dir, "backup/root-g1.json"), "utf8"));
    expect(backup.kekShares.shares.map((s: { recipient: string }) => s.recipient)).toEqual(["frank", "grace", "heidi"]);
    expect(backup.mechanism).toBe("CKM_AES_KEY_WRAP_PAD");
    await runStep(
      session,
      "unlock-spare",
      people,
      [...AW, ["carol", "officer"], ["erin", "officer"]],
      ["carol", "erin"],
    );
    await runStep(
      session,
      "recover",
      people,
      [...AW, ["grace", "custodian"], ["heidi", "custodian"]],
      ["grace", "frank"],
    );
    const proof = JSON.parse(readFileSync(join(session.dir, "backup/root-g1.recovery.json"), "utf8"));
    const original = createPublicKey(readFileSync(join(session.dir, "keys/root/root-g1.pub.pem")));
    expect(verify("sha384", canonicalBytes(proof.statement), original, Buffer.from(proof.signature, "base64"))).toBe(
      true,
    );
    expect(session.step("recover").result?.keyAttributes[0]).toMatchObject({
      sensitive: true,
      extractable: false,
      local: false,
    });
  });

  it("the recovered key lives in the spare token, whose PIN only the officers' quorum rebuilds", async () => {
    const sealed = await sealSession(session, people);
    expect(sealed.completed).toBe(true);
    const report = readFileSync(join(sealed.dir, "report.txt"), "utf8");
    expect(report).toContain('key "fixed-1" (P-256): NEVER EXTRACTABLE');
    expect(report).toContain('key "root-g1" (P-384): extractable only wrapped (backup chosen)');
    // without the PIN nobody can open the CA token: a guessed PIN fails
    expect(() => HsmToken.open({ library: sh.library, label: "plantroot-root", pin: { value: "1234" } })).toThrow(
      /wrong PIN/,
    );
  });
});

describe("offline verification of the bootstrap bundle", () => {
  const bundle = () => join(work, "boot");
  const copy = (name: string) => {
    const d = join(work, name);
    cpSync(bundle(), d, { recursive: true });
    return d;
  };
  const lines = (d: string) => readFileSync(join(d, "transcript.jsonl"), "utf8").trimEnd().split("\n");
  const writeLines = (d: string, l: string[]) => writeFileSync(join(d, "transcript.jsonl"), `${l.join("\n")}\n`);

  it("accepts the untouched bundle", () => {
    const r = verifyBundle(bundle());
    expect(r.problem).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.completed).toBe(true);
    expect(r.steps?.filter((s) => s.executed)).toHaveLength(10);
    expect(r.steps?.find((s) => s.id === "root-csr")?.approvedBy).toEqual([
      "alice (admin)",
      "bob (witness)",
      "dave (officer)",
      "erin (officer)",
    ]);
  });

  it("names an edited transcript entry", () => {
    const d = copy("edited");
    const l = lines(d);
    const i = l.findIndex((x) => x.includes('"action":"step.executed"') && x.includes('"step":"fixed-key"'));
    l[i] = l[i]!.replace('"neverExtractable":true', '"neverExtractable":false');
    writeLines(d, l);
    expect(verifyBundle(d).problem).toBe(
      `transcript.jsonl: transcript entry ${i} (step.executed) was edited: its hash does not match its content`,
    );
  });

  it("names a removed transcript entry", () => {
    const d = copy("removed");
    const l = lines(d);
    const i = l.findIndex((x) => x.includes('"action":"approval.accepted"'));
    l.splice(i, 1);
    writeLines(d, l);
    expect(verifyBundle(d).problem).toMatch(
      new RegExp(`transcript line ${i + 1} has sequence number ${i + 1}: entries were removed`),
    );
  });

  it("names a removed last entry through the final checkpoint", () => {
    const d = copy("truncated");
    const l = lines(d);
    writeLines(d, l.slice(0, -1));
    expect(verifyBundle(d).problem).toMatch(/covers \d+ entries but the transcript has \d+: entries were removed/);
  });

  it("names reordered transcript entries", () => {
    const d = copy("reordered");
    const l = lines(d);
    const i = l.findIndex((x) => x.includes('"action":"share.contributed"'));
    [l[i], l[i + 1]] = [l[i + 1]!, l[i]!];
    writeLines(d, l);
    expect(verifyBundle(d).problem).toMatch(new RegExp(`transcript line ${i + 1} has sequence number ${i + 1}`));
  });

  it("names a swapped output file", () => {
    const d = copy("swapped");
    // another valid CSR for the same subject, signed by another key
    writeFileSync(join(d, "csrs/root-g1.csr"), readFileSync(join(d, "csrs/root-g1.csr"), "utf8").replace(/A/g, "B"));
    expect(verifyBundle(d).problem).toMatch(
      /^csrs\/root-g1.csr does not match the SHA-256 recorded in transcript entry \d+ \(step root-csr\)/,
    );
  });

  it("names an extra file and a forged report", () => {
    const d = copy("extra");
    writeFileSync(join(d, "keys/root/evil.pub.pem"), "x");
    expect(verifyBundle(d).problem).toBe("keys/root/evil.pub.pem is not recorded in the transcript");
    const e = copy("report");
    writeFileSync(
      join(e, "report.txt"),
      readFileSync(join(e, "report.txt"), "utf8").replace("NEVER EXTRACTABLE", "fine"),
    );
    expect(verifyBundle(e).problem).toBe("report.txt does not match the evidence");
  });
});

describe("the day's TBS must match the dry run the reviewers signed", () => {
  it("refuses to prepare a signing step whose decoded TBS drifted from the reviewed one", async () => {
    const { Registry } = await import("../../ceremonies/registry.js");
    const Q = "all(admin, witness) and 2 of officers";
    const script: CeremonyScript = {
      ...bootScript(Registry.parse(registry).hash),
      ceremonyId: "2026-DRIFT",
      tokens: { root: { label: "drift-root", access: "quorum" } },
      steps: [
        { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
        { id: "unlock", action: "token.unlock", requires: Q, params: { token: "root" } },
        {
          id: "key",
          action: "key.generate",
          requires: Q,
          params: { token: "root", label: "k", spec: "P-256", backup: "none" },
        },
        {
          id: "csr",
          action: "csr.create",
          requires: Q,
          params: { token: "root", key: "k", subject: { commonName: "Reviewed Name" }, output: "csrs/k.csr" },
        },
      ],
    };
    const s = await openSession(script, registry, people, {
      bundleDir: join(work, "drift"),
      library: sh.library,
      // what reviewers saw was produced by another build: the subject differs
      mutateDryRun: (d) => {
        const line = d.steps.find((x) => x.id === "csr")!.tbs!.lines.find((l) => l.label === "Subject")!;
        line.value = "CN=Something Else";
      },
    });
    const who: Array<[string, Role]> = [
      ["alice", "admin"],
      ["bob", "witness"],
      ["carol", "officer"],
      ["dave", "officer"],
    ];
    await runStep(s, "init", people, who);
    await runStep(s, "unlock", people, who, ["carol", "dave"]);
    await runStep(s, "key", people, who);
    const err = await s.prepare("csr").catch((e) => e);
    expect(isCeremonyError(err, "check-failed")).toBe(true);
    expect((err as Error).message).toBe(
      'step csr: matches the reviewed dry run: differs from the dry run at "Subject: CN=Reviewed Name"',
    );
    expect(s.step("csr").status).toBe("ready");
    s.close();
  });
});
