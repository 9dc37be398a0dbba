// `plantroot ceremony` as an operator uses it, through the real binary against SoftHSM tokens: enroll
// each participant's token, assemble the registry, check, dry-run and sign the script, run a root
// ceremony from a runbook (with a refused step in between), verify the bundle, detect tampering.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { jcsHash } from "../../ceremonies/jcs.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const run = promisify(execFile);
const sh = testSoftHsm();
const work = mkdtempSync(join(tmpdir(), "ceremony-cli-"));
const BIN = new URL("../../bin/plantroot.mjs", import.meta.url).pathname;
const CAST = [
  ["alice", "Alice Admin", "admin"],
  ["bob", "Bob Witness", "witness"],
  ["carol", "Carol Officer", "officer"],
  ["dave", "Dave Officer", "officer"],
  ["kim", "Kim Auditor", "auditor"],
] as const;

async function plantroot(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [BIN, "ceremony", ...args], {
      cwd: work,
      env: { ...process.env, SOFTHSM2_CONF: sh.conf },
    });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: (x.stdout ?? "") + (x.stderr ?? "") };
  }
}

const p = (name: string) => join(work, name);

beforeAll(() => {
  for (const [id] of CAST) sh.createToken(`p-${id}`, `pin-${id}`);
});

describe("plantroot ceremony", () => {
  it("enrolls each participant on their own token and assembles the registry", async () => {
    // one after the other: the participants' SoftHSM tokens share a directory that every process scans
    const results: Array<{ code: number; out: string }> = [];
    for (const [id, name, role] of CAST)
      results.push(
        await plantroot([
          "enroll",
          "--token",
          `p-${id}`,
          "--pin",
          `pin-${id}`,
          "--id",
          id,
          "--name",
          name,
          "--roles",
          role,
          "--out",
          p(`${id}.json`),
        ]),
      );
    for (const r of results) expect(r.code, r.out).toBe(0);
    expect(results[2]!.out).toMatch(/enrolled carol \(officer\) on token "p-carol"/);
    const reg = await plantroot([
      "registry",
      "--name",
      "CLI PKI",
      "--out",
      p("registry.json"),
      ...CAST.map(([id]) => p(`${id}.json`)),
    ]);
    expect(reg.code, reg.out).toBe(0);
    // refuses to overwrite
    expect(
      (await plantroot(["registry", "--name", "CLI PKI", "--out", p("registry.json"), p("alice.json")])).out,
    ).toMatch(/already exists; refusing to overwrite/);
  });

  it("checks, dry-runs and signs the script", async () => {
    const registry = JSON.parse(readFileSync(p("registry.json"), "utf8"));
    const Q = "all(admin, witness) and 2 of officers";
    const script = {
      schema: "plantroot/ceremony-script/v1",
      ceremonyId: "2026-CLI-1",
      title: "Root CA from the terminal",
      registryHash: jcsHash(registry),
      author: "alice",
      reviewers: ["bob"],
      roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave"], auditor: ["kim"], custodian: [] },
      approvalTtlSeconds: 3600,
      tokens: { root: { label: "cli-root", access: "quorum" } },
      logToken: "root",
      steps: [
        { id: "init-root", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
        { id: "unlock-root", action: "token.unlock", requires: Q, params: { token: "root" } },
        {
          id: "root-key",
          action: "key.generate",
          requires: Q,
          params: { token: "root", label: "root", spec: "P-384", backup: "none" },
        },
        {
          id: "root-cert",
          action: "cert.root",
          requires: Q,
          params: {
            token: "root",
            key: "root",
            subject: { commonName: "CLI Root", country: "DE" },
            notBefore: "2026-01-01T00:00:00.000Z",
            notAfter: "2036-01-01T00:00:00.000Z",
            output: "certs/root.pem",
          },
        },
      ],
    };
    writeFileSync(p("script.json"), JSON.stringify(script, null, 2));
    const check = await plantroot(["check", p("script.json"), "--registry", p("registry.json")]);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain(
      "root-cert (cert.root) requires the ceremony administrator (alice) and the internal witness (bob) and 2 of the 2 crypto officers (carol, dave)",
    );
    // an unknown key is refused by the strict schema
    writeFileSync(p("bad.json"), JSON.stringify({ ...script, colour: "red" }));
    const bad = await plantroot(["check", p("bad.json"), "--registry", p("registry.json")]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/Unrecognized key: "colour"/);
    const dry = await plantroot([
      "dry-run",
      p("script.json"),
      "--registry",
      p("registry.json"),
      "--out",
      p("dry-run.json"),
    ]);
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toMatch(/root-cert \(cert.root\): simulated/);
    expect(dry.out).toMatch(/Subject: C=DE, CN=CLI Root/);
    for (const [id, as] of [
      ["alice", "author"],
      ["bob", "reviewer"],
    ] as const) {
      const r = await plantroot([
        "sign-script",
        p("script.json"),
        "--registry",
        p("registry.json"),
        "--dry-run",
        p("dry-run.json"),
        "--id",
        id,
        "--as",
        as,
        "--token",
        `p-${id}`,
        "--pin",
        `pin-${id}`,
        "--out",
        p(`sig-${id}.json`),
      ]);
      expect(r.code, r.out).toBe(0);
    }
  });

  it("runs the ceremony from a runbook; refusals change nothing", async () => {
    const approveAll = (who: string[]) =>
      who.map((id) => {
        const role = CAST.find((c) => c[0] === id)![2];
        return `approve ${id} ${role} p-${id} pin-${id}`;
      });
    const four = ["alice", "bob", "carol", "dave"];
    const runbook = [
      "prepare",
      ...approveAll(four),
      "execute",
      "prepare",
      ...approveAll(four),
      "share carol p-carol pin-carol",
      "execute",
      "share dave p-dave pin-dave",
      "execute",
      "prepare",
      ...approveAll(four),
      "execute",
      "prepare",
      ...approveAll(["alice", "bob", "carol"]),
      "execute",
      ...approveAll(["dave"]),
      "execute",
      "finish",
      "cosign bob witness p-bob pin-bob",
      "cosign kim auditor p-kim pin-kim",
      "seal",
    ];
    writeFileSync(p("runbook.txt"), runbook.join("\n"));
    const r = await plantroot([
      "run",
      p("script.json"),
      "--registry",
      p("registry.json"),
      "--signatures",
      p("sig-alice.json"),
      "--signatures",
      p("sig-bob.json"),
      "--dry-run",
      p("dry-run.json"),
      "--bundle",
      p("bundle"),
      "--commands",
      p("runbook.txt"),
    ]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("ERROR (secret-sharing): step unlock-root: 1 of 2 shares were opened");
    expect(r.out).toContain("ERROR (quorum-not-met): step root-cert: needs 1 more crypto officer (1 of 2)");
    expect(r.out).toMatch(/Basic constraints \[critical\]: CA: true/);
    expect(r.out).not.toContain("pin-carol");
    expect(r.out).toMatch(/sealed .*bundle: \d+ entries/);
  });

  it("verifies the bundle offline and names tampering", async () => {
    const ok = await plantroot(["verify", p("bundle")]);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/VALID ceremony 2026-CLI-1/);
    const t = readFileSync(p("bundle/transcript.jsonl"), "utf8").split("\n");
    t[3] = t[3]!.replace('"role":"witness"', '"role":"auditor"');
    writeFileSync(p("bundle/transcript.jsonl"), t.join("\n"));
    const bad = await plantroot(["verify", p("bundle")]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/INVALID: transcript.jsonl: transcript entry 3 \(approval.accepted\) was edited/);
  });
});
