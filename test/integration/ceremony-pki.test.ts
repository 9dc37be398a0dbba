// The PKI ceremonies end to end on real SoftHSM tokens (CA token, appliance token, one token per
// participant), 2-of-3 officers: root + issuing SubCA (key made on the appliance, CSR carried to the
// root, constrained SubCA certificate, import checked against the appliance key); the SubCA then
// issues leaves that openssl verify accepts or, outside the name constraints, rejects. A second
// ceremony rotates the SubCA with overlap, revokes the old one on a root CRL, makes an RSA-4096 root
// and cross-certifies it. Every bundle passes the offline verifier; tampering is named.
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deviceProfiles,
  LeafTemplate,
  parseCertificate,
  pemToDer,
  derToPem,
  subjectKeyIdOf,
} from "../../appliance/ca/index.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { type HsmKey, HsmToken } from "../../hsm/index.js";
import type { CeremonySession } from "../../ceremonies/engine/session.js";
import type { SignEvent } from "../../ceremonies/engine/types.js";
import { isCeremonyError } from "../../ceremonies/errors.js";
import { sha256Hex } from "../../ceremonies/jcs.js";
import { keyIdOf } from "../../ceremonies/keys.js";
import { assembleCsr, buildCsrInfo } from "../../ceremonies/pkix.js";
import { Registry } from "../../ceremonies/registry.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import { ShareSetSchema } from "../../ceremonies/shares.js";
import { verifyBundle } from "../../ceremonies/verify.js";
import { approve, closeCast, enrollCast, openSession, type Person, runStep, sealSession } from "../helpers/ceremony.js";
import { buildCsr } from "../helpers/csr.js";
import { plantroot } from "../helpers/demo-process.js";
import { openssl, testSoftHsm } from "../helpers/softhsm.js";

const sh = testSoftHsm();
let people: Map<string, Person>;
let registry: Awaited<ReturnType<typeof enrollCast>>["registry"];
let registryHash: string;
let work: string;
let appliance: HsmToken;
const signs: SignEvent[] = [];
const Q = "all(admin, witness) and 2 of officers";
const AW: Array<[string, "admin" | "witness"]> = [
  ["alice", "admin"],
  ["bob", "witness"],
];
const O = (a: string, b: string): Array<[string, "admin" | "witness" | "officer"]> => [
  ...AW,
  [a, "officer"],
  [b, "officer"],
];
const ROLES = {
  admin: ["alice"],
  witness: ["bob"],
  officer: ["carol", "dave", "erin"],
  auditor: ["kim"],
  custodian: [],
};
const URLS = { crlUrl: "http://pki.plant.example/root-g1.crl", issuerUrl: "http://pki.plant.example/root-g1.cer" };

beforeAll(async () => {
  ({ people, registry } = await enrollCast(sh));
  registryHash = Registry.parse(registry).hash;
  work = mkdtempSync(join(tmpdir(), "ceremony-pki-"));
  // the appliance's own token exists before the ceremony; its PIN is the appliance's, not the officers'
  sh.createToken("appliance", "app-pin");
  appliance = HsmToken.open({ library: sh.library, label: "appliance", pin: { value: "app-pin" } });
});
afterAll(() => {
  appliance?.close();
  closeCast(people);
});

const file = (dir: string, rel: string) => join(dir, rel);

function rootSubCaScript(): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-ROOT-G1",
    title: "Root CA G1 and the issuing SubCA of appliance plant-nord-1",
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: ROLES,
    approvalTtlSeconds: 3600,
    tokens: {
      root: { label: "plantroot-root", access: "quorum" },
      appliance: { label: "appliance", access: "operator" },
    },
    logToken: "root",
    steps: [
      {
        id: "init-root",
        action: "token.init",
        requires: Q,
        params: { token: "root", threshold: 2, logKey: "ceremony-log" },
      },
      { id: "unlock-root", action: "token.unlock", requires: Q, params: { token: "root" } },
      {
        id: "root-key",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "root-g1", spec: "P-384", backup: "none" },
      },
      {
        id: "root-cert",
        action: "cert.root",
        title: "Self-signed root certificate",
        requires: Q,
        params: {
          token: "root",
          key: "root-g1",
          subject: { commonName: "Plant Nord Root CA G1", organization: "Plant Nord", country: "DE" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2046-01-01T00:00:00.000Z",
          output: "certs/root-g1.pem",
        },
      },
      {
        id: "unlock-appliance",
        action: "token.unlock",
        requires: "all(admin, witness)",
        params: { token: "appliance" },
      },
      {
        id: "subca-key",
        action: "key.generate",
        requires: Q,
        params: { token: "appliance", label: "subca-g1", spec: "P-256", backup: "none" },
      },
      {
        id: "subca-csr",
        action: "csr.create",
        requires: Q,
        params: {
          token: "appliance",
          key: "subca-g1",
          subject: { commonName: "plant-nord-1 SubCA G1" },
          output: "csrs/subca-g1.csr",
        },
      },
      {
        id: "subca-cert",
        action: "cert.subca",
        title: "Technically constrained SubCA certificate",
        requires: Q,
        params: {
          token: "root",
          issuerKey: "root-g1",
          issuerCertificate: { step: "root-cert" },
          request: { step: "subca-csr" },
          subject: { commonName: "Plant Nord Issuing CA G1", organization: "Plant Nord", country: "DE" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2031-01-01T00:00:00.000Z",
          permittedDns: ["plant.example"],
          permittedIp: ["10.20.0.0/16"],
          ekus: ["serverAuth", "clientAuth"],
          ...URLS,
          output: "certs/subca-g1.pem",
        },
      },
      {
        id: "subca-import",
        action: "cert.import",
        requires: "all(admin, witness)",
        params: {
          token: "appliance",
          key: "subca-g1",
          certificate: { step: "subca-cert" },
          issuerCertificate: { step: "root-cert" },
          output: "appliance/chain.pem",
        },
      },
    ],
  };
}

/** Issues a device certificate with the SubCA key on the appliance token (the appliance's own job). */
async function issueLeaf(
  subcaKey: HsmKey,
  subcaPem: string,
  san: { type: "dns" | "ip"; value: string },
): Promise<string> {
  const subca = parseCertificate(pemToDer(subcaPem));
  const urls = {
    caIssuers: "http://pki.plant.example/subca.cer",
    crl: "http://pki.plant.example/subca.crl",
    ocsp: "http://pki.plant.example/ocsp",
  };
  const tpl = new LeafTemplate(deviceProfiles(urls)[0]!, {
    name: subca.subject,
    keyIdentifier: subjectKeyIdOf(subca)!,
    signatureAlgorithm: "ecdsa-sha256",
  });
  const device = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const prep = tpl.prepare({
    serial: Buffer.from("0102030405060708090a0b0c0d0e0f10", "hex"),
    notBefore: new Date("2026-11-01T00:00:00Z"),
    notAfter: new Date("2026-12-31T00:00:00Z"),
    spki: Buffer.from(device.publicKey.export({ type: "spki", format: "der" })),
    rsa: false,
    sans: [san],
  });
  const sig = await subcaKey.sign(prep.tbs, "ecdsa-sha256");
  return derToPem(prep.assemble(sig));
}

function opensslVerify(dir: string, leafPem: string, name: string, extra: string[] = []): string {
  const leaf = join(work, `${name}.pem`);
  writeFileSync(leaf, leafPem);
  return openssl([
    "verify",
    "-attime",
    String(Date.parse("2026-11-20T00:00:00Z") / 1000),
    "-CAfile",
    file(dir, "certs/root-g1.pem"),
    "-untrusted",
    file(dir, "certs/subca-g1.pem"),
    ...extra,
    leaf,
  ]);
}

describe("root + SubCA ceremony, 2 of 3 officers", () => {
  let session: CeremonySession;
  let dir: string;

  it("runs every step with approvals from the participants' own tokens", async () => {
    session = await openSession(rootSubCaScript(), registry, people, {
      bundleDir: join(work, "root-g1"),
      library: sh.library,
      operatorPins: { appliance: { value: "app-pin" } },
      clock: () => new Date("2026-11-20T09:00:00.000Z"),
      onSign: (e) => signs.push(e),
    });
    dir = session.dir;
    await runStep(session, "init-root", people, O("carol", "dave"));
    await runStep(session, "unlock-root", people, O("carol", "dave"), ["carol", "dave"]);
    await runStep(session, "root-key", people, O("dave", "erin"));
    await session.prepare("root-cert");
    const view = session.step("root-cert");
    const lines = Object.fromEntries(view.prepared!.tbs!.lines.map((l) => [l.label, l.value]));
    expect(lines.Subject).toBe("C=DE, O=Plant Nord, CN=Plant Nord Root CA G1");
    expect(lines.Issuer).toBe(lines.Subject);
    expect(lines["Basic constraints"]).toBe("CA: true");
    expect(lines["Key usage"]).toBe("keyCertSign, cRLSign");
    expect(lines["Extended key usage"]).toBeUndefined();
    expect(view.prepared!.checks.map((c) => c.name)).toContain("no EKU on a root");
    await approve(session, "root-cert", people, O("carol", "erin"), new Date("2026-11-20T09:00:00.000Z"));
    await session.execute("root-cert");
    await runStep(session, "unlock-appliance", people, AW);
    await runStep(session, "subca-key", people, O("carol", "dave"));
    await runStep(session, "subca-csr", people, O("carol", "dave"));
    await session.prepare("subca-cert");
    const sub = Object.fromEntries(session.step("subca-cert").prepared!.tbs!.lines.map((l) => [l.label, l]));
    expect(sub["Name constraints"]).toMatchObject({
      critical: true,
      value: "permitted: DNS:plant.example, IP:10.20.0.0/16; excluded: —",
    });
    expect(sub["Basic constraints"]!.value).toBe("CA: true, path length ≤ 0");
    expect(sub["Extended key usage"]!.value).toBe("serverAuth, clientAuth");
    expect(sub["CRL distribution points"]!.value).toBe(URLS.crlUrl);
    await approve(session, "subca-cert", people, O("dave", "erin"), new Date("2026-11-20T09:00:00.000Z"));
    await session.execute("subca-cert");
    await runStep(session, "subca-import", people, AW);
    const sealed = await sealSession(session, people);
    expect(sealed.completed).toBe(true);
    // the HSM signed exactly: the CSR (appliance key), the root and the SubCA certificate (root key)
    expect(signs.filter((s) => s.kind === "tbs").map((s) => `${s.token}/${s.keyLabel}`)).toEqual([
      "plantroot-root/root-g1",
      "appliance/subca-g1",
      "plantroot-root/root-g1",
    ]);
  });

  it("produces a chain openssl accepts, with the constraint inside the SubCA certificate", () => {
    expect(
      openssl([
        "verify",
        "-attime",
        "1795000000",
        "-CAfile",
        file(dir, "certs/root-g1.pem"),
        file(dir, "certs/subca-g1.pem"),
      ]),
    ).toMatch(/OK/);
    const text = openssl(["x509", "-in", file(dir, "certs/subca-g1.pem"), "-noout", "-text"]);
    expect(text).toMatch(
      /X509v3 Name Constraints: critical\s+Permitted:\s+DNS:plant.example\s+IP:10.20.0.0\/255.255.0.0/,
    );
    expect(text).toMatch(/pathlen:0/);
    const chain = readFileSync(file(dir, "appliance/chain.pem"), "utf8");
    expect(chain).toBe(
      readFileSync(file(dir, "certs/subca-g1.pem"), "utf8") + readFileSync(file(dir, "certs/root-g1.pem"), "utf8"),
    );
  });

  it("the SubCA plugs into the appliance CA, which issues leaves openssl accepts", async () => {
    // what the appliance installation adds to its own token: the audit checkpoint key
    appliance.generateKeyPair({ label: "audit", spec: "P-256" });
    const db = await Db.open(join(work, "appliance.db"), { migrations: MIGRATIONS });
    const ca = await createCa({
      config: {
        pkiBaseUrl: "http://pki.plant.example",
        hsm: { issuingKeyLabel: "subca-g1", auditKeyLabel: "audit" },
        certificates: { issuing: file(dir, "certs/subca-g1.pem"), root: file(dir, "certs/root-g1.pem") },
        policy: { permittedDns: ["plant.example"], permittedIp: ["10.20.0.0/16"] },
      },
      token: appliance,
      db,
    });
    try {
      for (const [name, id] of [
        ["ca-dns", { type: "dns" as const, value: "plc-7.line-2.plant.example" }],
        ["ca-ip", { type: "ip" as const, value: "10.20.3.4" }],
      ] as const) {
        const device = generateKeyPairSync("ec", { namedCurve: "P-256" });
        const spki = Buffer.from(device.publicKey.export({ type: "spki", format: "der" }));
        const issued = await ca.issue({
          csr: buildCsr({ privateKey: device.privateKey, spki, sans: [id] }),
          identifiers: [id],
          requester: {},
        });
        const leaf = join(work, `${name}.pem`);
        writeFileSync(leaf, issued.chainPem);
        const root = file(dir, "certs/root-g1.pem");
        expect(openssl(["verify", "-CAfile", root, "-untrusted", file(dir, "certs/subca-g1.pem"), leaf])).toMatch(/OK/);
      }
      // the appliance's own policy refuses a name outside the plant before anything is signed
      const device = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const spki = Buffer.from(device.publicKey.export({ type: "spki", format: "der" }));
      const evil = { type: "dns" as const, value: "plc.other.example" };
      const csr = buildCsr({ privateKey: device.privateKey, spki, sans: [evil] });
      await expect(ca.issue({ csr, identifiers: [evil], requester: {} })).rejects.toThrow();
    } finally {
      await ca.close();
      await db.close();
    }
  });

  it("plantroot ceremony install-subca imports it into an appliance and records it in the audit chain", async () => {
    // the appliance as plant IT configured it: its token (with the audit key made at installation),
    // its data dir, and the certificate files its CA section names (not there yet)
    const app = join(work, "appliance-install");
    const pinFile = join(work, "appliance.pin");
    writeFileSync(pinFile, "app-pin\n", { mode: 0o600 });
    const config = (
      issuingKeyLabel: string,
      auditKeyLabel = "audit",
      pin: { file: string } | { credential: string } = { file: pinFile },
    ) => ({
      dataDir: join(app, "data"),
      listen: { host: "127.0.0.1", port: 0, httpPort: 0 },
      tlsNames: ["127.0.0.1"],
      hsm: { token: "appliance", pin },
      ca: {
        pkiBaseUrl: "http://pki.plant.example",
        hsm: { issuingKeyLabel, auditKeyLabel },
        certificates: { issuing: join(app, "pki/issuing.pem"), root: join(app, "pki/root.pem") },
        policy: { permittedDns: ["plant.example"], permittedIp: ["10.20.0.0/16"] },
      },
      validation: { allowedNetworks: ["10.20.0.0/16"], resolver: { hosts: {} } },
    });
    writeFileSync(join(work, "serve.json"), JSON.stringify(config("subca-g1")));
    writeFileSync(join(work, "serve-wrong-key.json"), JSON.stringify(config("other-key")));
    writeFileSync(join(work, "serve-no-audit-key.json"), JSON.stringify(config("subca-g1", "no-audit-key")));
    // as packaged: the PIN is a systemd credential, which exists only inside the service
    writeFileSync(
      join(work, "serve-credential.json"),
      JSON.stringify(config("subca-g1", "audit", { credential: "hsm-pin" })),
    );
    const logKeyId = keyIdOf(createPublicKey(readFileSync(file(dir, "keys/root/ceremony-log.pub.pem"))));
    const install = (cfg: string, ...extra: string[]) =>
      plantroot(["ceremony", "install-subca", dir, "--config", join(work, cfg), "--actor", "operator:test", ...extra]);
    // refused before anything is written: a registry that is not the pinned one, a key the config does not use
    const wrongPin = await install("serve.json", "--registry-hash", "0".repeat(64));
    expect(wrongPin.code).not.toBe(0);
    expect(wrongPin.out).toMatch(/^plantroot: evidence bundle .* does not verify: .*not the pinned registry/m);
    const wrongKey = await install("serve-wrong-key.json", "--registry-hash", registryHash);
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.out).toMatch(/names issuing key "other-key", but ceremony 2026-ROOT-G1 made "subca-g1"/);
    expect(existsSync(join(app, "pki/issuing.pem"))).toBe(false);
    // the CA refuses to start on the new files (here: no audit key on the token): they are taken back
    const noAudit = await install("serve-no-audit-key.json", "--registry-hash", registryHash);
    expect(noAudit.code).not.toBe(0);
    expect(noAudit.out).toMatch(/^plantroot: .*no-audit-key/m);
    expect(existsSync(join(app, "pki/issuing.pem"))).toBe(false);
    expect(existsSync(join(app, "pki/root.pem"))).toBe(false);

    // outside the service the credential is not there: refused, naming why; root hands the PIN file
    // to the command as an open descriptor instead (--pin fd:3 3<PINFILE)
    const noCred = await install("serve-credential.json", "--registry-hash", registryHash, "--log-key", logKeyId);
    expect(noCred.code).not.toBe(0);
    expect(noCred.out).toMatch(/credential hsm-pin: CREDENTIALS_DIRECTORY is not set/);
    expect(existsSync(join(app, "pki/issuing.pem"))).toBe(false);
    const installFd = (...extra: string[]) =>
      plantroot(
        [
          "ceremony",
          "install-subca",
          dir,
          "--config",
          join(work, "serve-credential.json"),
          "--actor",
          "operator:test",
          ...extra,
        ],
        { fd3: pinFile },
      );
    const ok = await installFd("--registry-hash", registryHash, "--log-key", logKeyId, "--pin", "fd:3");
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).not.toMatch(/WARNING/);
    expect(readFileSync(join(app, "pki/issuing.pem"), "utf8")).toBe(
      readFileSync(file(dir, "certs/subca-g1.pem"), "utf8"),
    );
    expect(readFileSync(join(app, "pki/root.pem"), "utf8")).toBe(readFileSync(file(dir, "certs/root-g1.pem"), "utf8"));
    const sha = sha256Hex(pemToDer(readFileSync(file(dir, "certs/subca-g1.pem"), "utf8")));
    expect(ok.out).toMatch(
      new RegExp(`audit entry \\d+ \\(ceremony.subca-installed\\): SubCA ${sha} from ceremony 2026-ROOT-G1`),
    );
    // idempotent: the same bundle again changes nothing
    const again = await install("serve.json", "--registry-hash", registryHash, "--log-key", logKeyId);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/already installed and recorded; nothing changed/);
    expect(again.out).not.toMatch(/^wrote /m);

    // the appliance's audit chain verifies and shows where its SubCA came from
    const head = (
      JSON.parse(readFileSync(file(dir, "transcript.jsonl"), "utf8").trim().split("\n").pop()!) as {
        hash: string;
      }
    ).hash;
    const audit = await plantroot(["audit", "verify", "--db", join(app, "data/plantroot.db")]);
    expect(audit.code, audit.out).toBe(0);
    expect(audit.out).toMatch(/audit chain OK/);
    expect(audit.out).toMatch(
      new RegExp(
        `^ceremony.subca-installed \\(entry \\d+, \\S+, by operator:test\\): ceremony 2026-ROOT-G1, certificate SHA-256 ${sha}, transcript head ${head}$`,
        "m",
      ),
    );
    const json = JSON.parse(
      (await plantroot(["audit", "verify", "--db", join(app, "data/plantroot.db"), "--json"])).out,
    ) as { ok: boolean; ceremonies: Array<{ type: string; details: Record<string, unknown> }> };
    expect(json.ok).toBe(true);
    expect(json.ceremonies).toHaveLength(1);
    expect(json.ceremonies[0]!.details).toMatchObject({
      ceremonyId: "2026-ROOT-G1",
      certificateSha256: sha,
      transcriptHead: head,
      step: "subca-import",
      token: "appliance",
      key: "subca-g1",
      pinned: { registry: true, logKey: true },
    });
  });

  it("a leaf outside the name constraints, signed directly with the SubCA key, is rejected by openssl", async () => {
    const key = appliance.findKey("subca-g1");
    const subcaPem = readFileSync(file(dir, "certs/subca-g1.pem"), "utf8");
    const good = await issueLeaf(key, subcaPem, { type: "dns", value: "plc-7.line-2.plant.example" });
    expect(opensslVerify(dir, good, "ok-dns")).toMatch(/OK/);
    // built directly with the SubCA key: only the certificate's own constraint can stop it
    for (const [name, san] of [
      ["bad-dns", { type: "dns" as const, value: "plc-7.other.example" }],
      ["bad-ip", { type: "ip" as const, value: "192.168.1.4" }],
    ] as const) {
      const bad = await issueLeaf(key, subcaPem, san);
      let out = "";
      try {
        opensslVerify(dir, bad, name);
      } catch (e) {
        out = String((e as { stderr?: Buffer }).stderr ?? e) + String((e as { stdout?: Buffer }).stdout ?? "");
      }
      expect(out).toMatch(/permitted subtree violation/);
    }
  });

  it("passes the offline verifier, with the registry and checkpoint key pinned", () => {
    const logKeyId = keyIdOf(createPublicKey(readFileSync(file(dir, "keys/root/ceremony-log.pub.pem"))));
    expect(verifyBundle(dir, { registryHash: "0".repeat(64) }).problem).toMatch(/not the pinned registry/);
    expect(verifyBundle(dir, { logKeyId: "0".repeat(64) }).problem).toMatch(/not the pinned ceremony-log key/);
    const r = verifyBundle(dir, { registryHash, logKeyId });
    expect(r.problem).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.steps?.find((s) => s.id === "subca-cert")?.approvedBy).toEqual([
      "alice (admin)",
      "bob (witness)",
      "dave (officer)",
      "erin (officer)",
    ]);
  });

  it("names a swapped certificate", async () => {
    const d = join(work, "swapped-cert");
    cpSync(dir, d, { recursive: true });
    // a genuine certificate signed by the same root key, but not the one the quorum approved
    const other = readFileSync(file(dir, "certs/root-g1.pem"));
    writeFileSync(file(d, "certs/subca-g1.pem"), other);
    expect(verifyBundle(d).problem).toMatch(
      /^certs\/subca-g1.pem does not match the SHA-256 recorded in transcript entry \d+ \(step subca-cert\): it was changed or swapped$/,
    );
  });
});

describe("second ceremony: SubCA rotation with overlap, root CRL, RSA-4096 root and cross certificate", () => {
  const g1 = () => join(work, "root-g1");
  let session: CeremonySession;
  let dir: string;
  const clock = () => new Date("2026-11-21T09:00:00.000Z");

  function lifecycleScript(id: string, withTail = true): CeremonyScript {
    const rootPem = readFileSync(file(g1(), "certs/root-g1.pem"));
    const subPem = readFileSync(file(g1(), "certs/subca-g1.pem"));
    const logKey = keyIdOf(createPublicKey(readFileSync(file(g1(), "keys/root/ceremony-log.pub.pem"))));
    const steps: CeremonyScript["steps"] = [
      { id: "unlock-root", action: "token.unlock", requires: Q, params: { token: "root" } },
      {
        id: "unlock-appliance",
        action: "token.unlock",
        requires: "all(admin, witness)",
        params: { token: "appliance" },
      },
      {
        id: "subca2-key",
        action: "key.generate",
        requires: Q,
        params: { token: "appliance", label: `${id}-key`, spec: "P-256", backup: "none" },
      },
      {
        id: "subca2-cert",
        action: "cert.subca",
        requires: Q,
        params: {
          token: "root",
          issuerKey: "root-g1",
          issuerCertificate: { file: "inputs/root-g1.pem", sha256: sha256Hex(rootPem) },
          request: { input: "subca2-csr" },
          replaces: { file: "inputs/subca-g1.pem", sha256: sha256Hex(subPem) },
          subject: { commonName: "Plant Nord Issuing CA G2", organization: "Plant Nord", country: "DE" },
          notBefore: "2030-06-01T00:00:00.000Z",
          notAfter: "2035-06-01T00:00:00.000Z",
          permittedDns: ["plant.example"],
          permittedIp: ["10.20.0.0/16"],
          ekus: ["serverAuth", "clientAuth"],
          ...URLS,
          output: "certs/subca-g2.pem",
        },
      },
    ];
    if (withTail)
      steps.push(
        {
          id: "root-crl",
          action: "crl.issue",
          requires: Q,
          params: {
            token: "root",
            issuerKey: "root-g1",
            issuerCertificate: { file: "inputs/root-g1.pem", sha256: sha256Hex(rootPem) },
            number: 2,
            thisUpdate: "2026-11-21T00:00:00.000Z",
            nextUpdate: "2027-11-20T00:00:00.000Z",
            distributionPoint: URLS.crlUrl,
            revoked: [
              {
                certificate: { file: "inputs/subca-g1.pem", sha256: sha256Hex(subPem) },
                reason: "superseded",
                date: "2026-11-21T00:00:00.000Z",
              },
            ],
            output: "crls/root-g1-2.crl",
          },
        },
        {
          id: "root2-key",
          action: "key.generate",
          requires: Q,
          params: { token: "root", label: "root-g2", spec: "RSA-4096", backup: "none" },
        },
        {
          id: "root2-cert",
          action: "cert.root",
          requires: Q,
          params: {
            token: "root",
            key: "root-g2",
            subject: { commonName: "Plant Nord Root CA G2", organization: "Plant Nord", country: "DE" },
            notBefore: "2026-11-01T00:00:00.000Z",
            notAfter: "2046-11-01T00:00:00.000Z",
            output: "certs/root-g2.pem",
          },
        },
        {
          id: "cross",
          action: "cert.cross",
          requires: Q,
          params: {
            token: "root",
            issuerKey: "root-g1",
            issuerCertificate: { file: "inputs/root-g1.pem", sha256: sha256Hex(rootPem) },
            subjectCertificate: { step: "root2-cert" },
            notBefore: "2026-11-01T00:00:00.000Z",
            notAfter: "2031-11-01T00:00:00.000Z",
            ...URLS,
            output: "certs/root-g2-by-g1.pem",
          },
        },
      );
    return {
      schema: "plantroot/ceremony-script/v1",
      ceremonyId: id,
      title: "SubCA rotation, root CRL, root G2 and its cross certificate",
      registryHash,
      author: "alice",
      reviewers: ["rita"],
      roles: ROLES,
      approvalTtlSeconds: 3600,
      tokens: {
        root: { label: "plantroot-root", access: "quorum", logKey: { label: "ceremony-log", keyId: logKey } },
        appliance: { label: "appliance", access: "operator" },
      },
      logToken: "root",
      steps,
    };
  }

  const sessionOpts = (name: string) => ({
    bundleDir: join(work, name),
    library: sh.library,
    operatorPins: { appliance: { value: "app-pin" } },
    pinShares: {
      root: ShareSetSchema.parse(JSON.parse(readFileSync(file(g1(), "tokens/root.pin-shares.json"), "utf8"))),
    },
    files: {
      "inputs/root-g1.pem": readFileSync(file(g1(), "certs/root-g1.pem")),
      "inputs/subca-g1.pem": readFileSync(file(g1(), "certs/subca-g1.pem")),
    },
    clock,
    onSign: (e: SignEvent) => signs.push(e),
  });

  /** The appliance makes its CSR with its own key (outside the ceremony); an officer carries it in. */
  async function applianceCsr(label: string): Promise<Buffer> {
    const key = appliance.findKey(label);
    const info = buildCsrInfo({ commonName: `${label} request` }, key.spki);
    return Buffer.from(
      derToPem(assembleCsr(info, "ecdsa-sha256", await key.sign(info, "ecdsa-sha256")), "CERTIFICATE REQUEST"),
    );
  }

  it("rotates the SubCA: carol carries the CSR in and so cannot approve it", async () => {
    session = await openSession(lifecycleScript("2026-ROTATE-1"), registry, people, sessionOpts("rotate"));
    dir = session.dir;
    await runStep(session, "unlock-root", people, O("dave", "erin"), ["erin", "carol"]);
    await runStep(session, "unlock-appliance", people, AW);
    await runStep(session, "subca2-key", people, O("carol", "dave"));
    session.provideInput("subca2-csr", await applianceCsr("2026-ROTATE-1-key"), "carol");
    await session.prepare("subca2-cert");
    const view = session.step("subca2-cert");
    expect(view.prepared!.proposers).toEqual(["carol"]);
    expect(view.prepared!.checks.filter((c) => c.name.startsWith("rotation")).map((c) => c.detail)).toEqual([
      "old SubCA issued by C=DE, O=Plant Nord, CN=Plant Nord Root CA G1",
      "the new SubCA key differs from the old one",
      "old valid until 2031-01-01T00:00:00.000Z, new from 2030-06-01T00:00:00.000Z to 2035-06-01T00:00:00.000Z",
    ]);
    const req = session.approvalRequest("subca2-cert");
    const carol = await people.get("carol")!.officer.approve(req, "officer", clock());
    expect(session.submitApproval("subca2-cert", carol)).toMatchObject({ accepted: false, reason: "self-approval" });
    await approve(session, "subca2-cert", people, [...AW, ["dave", "officer"]], clock());
    const before = signs.filter((s) => s.kind === "tbs").length;
    const err = await session.execute("subca2-cert").catch((e) => e);
    expect(isCeremonyError(err, "quorum-not-met")).toBe(true);
    expect(signs.filter((s) => s.kind === "tbs").length).toBe(before);
    await approve(session, "subca2-cert", people, [["erin", "officer"]], clock());
    await session.execute("subca2-cert");
    expect(signs.filter((s) => s.kind === "tbs").length).toBe(before + 1);
  });

  it("revokes the old SubCA on a root CRL, makes an RSA-4096 root G2 and cross-certifies it", async () => {
    await runStep(session, "root-crl", people, O("carol", "dave"));
    const crl = session.step("root-crl").prepared!.tbs!;
    expect(crl.lines.find((l) => l.label === "Revoked certificates")?.value).toMatch(
      /at 2026-11-21T00:00:00.000Z \(superseded\)/,
    );
    await runStep(session, "root2-key", people, O("carol", "erin"));
    expect(session.step("root2-key").result?.keyAttributes[0]).toMatchObject({
      keyType: "RSA-4096",
      neverExtractable: true,
    });
    await runStep(session, "root2-cert", people, O("carol", "erin"));
    await runStep(session, "cross", people, O("dave", "erin"));
    const sealed = await sealSession(session, people);
    expect(sealed.completed).toBe(true);
  });

  it("openssl sees the overlap, the revocation and the cross certificate", () => {
    const root1 = file(g1(), "certs/root-g1.pem");
    const at = ["-attime", String(Date.parse("2030-07-01T00:00:00Z") / 1000)];
    expect(openssl(["verify", ...at, "-CAfile", root1, file(dir, "certs/subca-g2.pem")])).toMatch(/OK/);
    expect(openssl(["verify", ...at, "-CAfile", root1, file(g1(), "certs/subca-g1.pem")])).toMatch(/OK/); // overlap
    expect(openssl(["crl", "-in", file(dir, "crls/root-g1-2.crl"), "-CAfile", root1, "-noout"], undefined)).toBe("");
    const inCrl = ["-attime", String(Date.parse("2027-06-01T00:00:00Z") / 1000)];
    let out = "";
    try {
      openssl([
        "verify",
        ...inCrl,
        "-crl_check",
        "-CAfile",
        root1,
        "-CRLfile",
        file(dir, "crls/root-g1-2.crl"),
        file(g1(), "certs/subca-g1.pem"),
      ]);
    } catch (e) {
      out = String((e as { stdout?: Buffer }).stdout ?? "") + String((e as { stderr?: Buffer }).stderr ?? "");
    }
    expect(out).toMatch(/certificate revoked/);
    expect(
      // G2 starts in 2030, after this CRL's nextUpdate: check revocation status without the clock
      openssl([
        "verify",
        "-no_check_time",
        "-crl_check",
        "-CAfile",
        root1,
        "-CRLfile",
        file(dir, "crls/root-g1-2.crl"),
        file(dir, "certs/subca-g2.pem"),
      ]),
    ).toMatch(/OK/);
    // the cross certificate chains root G2's key up to root G1
    expect(openssl(["verify", ...at, "-CAfile", root1, file(dir, "certs/root-g2-by-g1.pem")])).toMatch(/OK/);
    const g2 = parseCertificate(pemToDer(readFileSync(file(dir, "certs/root-g2.pem"), "utf8")));
    const cross = parseCertificate(pemToDer(readFileSync(file(dir, "certs/root-g2-by-g1.pem"), "utf8")));
    expect(cross.subject.equals(g2.subject) && cross.spki.equals(g2.spki)).toBe(true);
    expect(openssl(["x509", "-in", file(dir, "certs/root-g2.pem"), "-noout", "-text"])).toMatch(
      /Public-Key: \(4096 bit\)/,
    );
    expect(verifyBundle(dir).problem).toBeUndefined();
  });

  it("refuses to sign when the carried-in request changes after approval (TBS rebuilt differs)", async () => {
    const s = await openSession(lifecycleScript("2026-ROTATE-SWAP", false), registry, people, sessionOpts("swap"));
    await runStep(s, "unlock-root", people, O("dave", "erin"), ["dave", "erin"]);
    await runStep(s, "unlock-appliance", people, AW);
    await runStep(s, "subca2-key", people, O("carol", "dave"));
    s.provideInput("subca2-csr", await applianceCsr("2026-ROTATE-SWAP-key"), "carol");
    await s.prepare("subca2-cert");
    await approve(s, "subca2-cert", people, O("dave", "erin"), clock());
    // someone replaces the carried-in request on disk with one for another key
    writeFileSync(join(s.dir, "inputs/provided/subca2-csr"), await applianceCsr("2026-ROTATE-1-key"));
    const before = signs.filter((e) => e.kind === "tbs").length;
    const err = await s.execute("subca2-cert").catch((e) => e);
    expect(isCeremonyError(err, "tbs-mismatch")).toBe(true);
    expect(signs.filter((e) => e.kind === "tbs").length).toBe(before);
    expect(s.step("subca2-cert").status).toBe("failed");
    expect(s.transcript().at(-1)).toMatchObject({ action: "step.failed", step: "subca2-cert" });
    s.close();
  });
});
