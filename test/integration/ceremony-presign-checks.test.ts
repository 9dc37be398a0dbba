// Every pre-signing check of the key, certificate and CRL actions in the failing direction, on real
// SoftHSM tokens: a base ceremony makes a root (and a second, unrelated root) and an appliance SubCA;
// then each test opens a ceremony whose last step is deliberately bad (output path taken, key label
// used, issuer certificate of another key, a weak RSA request, validity or constraint errors, a bad
// rotation, a CRL that breaks a rule…) and asserts that preparing it is refused with `check-failed`
// naming the check, that the step can then not be executed, and that the HSM signed nothing.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createPublicKey, X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derToPem } from "../../appliance/ca/index.js";
import type { CeremonySession } from "../../ceremonies/engine/session.js";
import type { SignEvent } from "../../ceremonies/engine/types.js";
import { sha256Hex } from "../../ceremonies/jcs.js";
import { keyIdOf } from "../../ceremonies/keys.js";
import { Registry } from "../../ceremonies/registry.js";
import { type CeremonyScript, loadScript } from "../../ceremonies/script.js";
import { ShareSetSchema } from "../../ceremonies/shares.js";
import { closeCast, enrollCast, openSession, type Person, runStep, sealSession } from "../helpers/ceremony.js";
import { buildCsr } from "../helpers/csr.js";
import { testSoftHsm } from "../helpers/softhsm.js";
import { fermatWeakKey } from "../helpers/weak-rsa.js";

const sh = testSoftHsm();
let people: Map<string, Person>;
let registry: Awaited<ReturnType<typeof enrollCast>>["registry"];
let registryHash: string;
let work: string;
let base: string;
const files: Record<string, Buffer> = {};
const Q = "all(admin, witness) and 2 of officers";
const AW = "all(admin, witness)";
type R = "admin" | "witness" | "officer";
const O: Array<[string, R]> = [
  ["alice", "admin"],
  ["bob", "witness"],
  ["carol", "officer"],
  ["dave", "officer"],
];
const ROLES = {
  admin: ["alice"],
  witness: ["bob"],
  officer: ["carol", "dave", "erin"],
  auditor: ["kim"],
  custodian: [],
};
const URLS = { crlUrl: "http://pki.plant.example/root-g1.crl", issuerUrl: "http://pki.plant.example/root-g1.cer" };
type Step = CeremonyScript["steps"][number];

const pinned = (name: string) => ({ file: `inputs/${name}`, sha256: sha256Hex(files[`inputs/${name}`]!) });

function script(id: string, tokens: CeremonyScript["tokens"], steps: Step[]): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: id,
    title: `pre-signing checks: ${id}`,
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: ROLES,
    approvalTtlSeconds: 3600,
    tokens,
    logToken: "root",
    steps,
  };
}

beforeAll(async () => {
  ({ people, registry } = await enrollCast(sh, [
    { id: "alice", name: "Alice Admin", roles: ["admin"] },
    { id: "bob", name: "Bob Witness", roles: ["witness"] },
    { id: "carol", name: "Carol Officer", roles: ["officer"] },
    { id: "dave", name: "Dave Officer", roles: ["officer"] },
    { id: "erin", name: "Erin Officer", roles: ["officer"] },
    { id: "kim", name: "Kim Auditor", roles: ["auditor"] },
    { id: "rita", name: "Rita Reviewer", roles: ["witness"] },
  ]));
  registryHash = Registry.parse(registry).hash;
  work = mkdtempSync(join(tmpdir(), "ceremony-presign-"));
  sh.createToken("appliance", "app-pin");
  // the base ceremony: root G1, an unrelated root X1 on the same token, the appliance's SubCA G1
  // root G1's key.generate names no spec: the script default (P-384) applies
  const root = (id: string, key: string, cn: string, spec?: "P-256"): Step[] => [
    {
      id: `${id}-key`,
      action: "key.generate",
      requires: Q,
      params: { token: "root", label: key, ...(spec ? { spec } : {}), backup: "none" } as Extract<
        Step,
        { action: "key.generate" }
      >["params"],
    },
    {
      id: `${id}-cert`,
      action: "cert.root",
      requires: Q,
      params: {
        token: "root",
        key,
        subject: { commonName: cn, organization: "Plant Nord", country: "DE" },
        notBefore: "2026-01-01T00:00:00.000Z",
        notAfter: "2036-01-01T00:00:00.000Z",
        output: `certs/${key}.pem`,
      },
    },
  ];
  const s = script(
    "2026-BASE-1",
    { root: { label: "plantroot-root", access: "quorum" }, appliance: { label: "appliance", access: "operator" } },
    [
      {
        id: "init-root",
        action: "token.init",
        requires: Q,
        params: { token: "root", threshold: 2, logKey: "ceremony-log" },
      },
      { id: "unlock-root", action: "token.unlock", requires: Q, params: { token: "root" } },
      ...root("g1", "root-g1", "Plant Nord Root CA G1"),
      ...root("x1", "root-x1", "Unrelated Root X1", "P-256"),
      { id: "unlock-appliance", action: "token.unlock", requires: AW, params: { token: "appliance" } },
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
          subject: { commonName: "SubCA G1" },
          output: "csrs/subca-g1.csr",
        },
      },
      {
        id: "subca-cert",
        action: "cert.subca",
        requires: Q,
        params: {
          token: "root",
          issuerKey: "root-g1",
          issuerCertificate: { step: "g1-cert" },
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
    ],
  );
  const session = await openSession(s, registry, people, {
    bundleDir: join(work, "base"),
    library: sh.library,
    operatorPins: { appliance: { value: "app-pin" } },
  });
  for (const st of s.steps) {
    const who: Array<[string, R]> = st.requires === AW ? O.slice(0, 2) : O;
    await runStep(
      session,
      st.id,
      people,
      who,
      st.action === "token.unlock" && st.params.token === "root" ? ["carol", "dave"] : [],
    );
  }
  await sealSession(session, people);
  base = session.dir;
  for (const f of ["root-g1.pem", "root-x1.pem", "subca-g1.pem"])
    files[`inputs/${f}`] = readFileSync(join(base, "certs", f));
  files["inputs/subca-g1.csr"] = readFileSync(join(base, "csrs/subca-g1.csr"));
  const weak = fermatWeakKey();
  files["inputs/weak-rsa.csr"] = Buffer.from(
    derToPem(
      buildCsr({ privateKey: weak.privateKey, spki: weak.spki, cn: "weak SubCA", alg: "rsa-pkcs1-sha256" }),
      "CERTIFICATE REQUEST",
    ),
  );
}, 120_000);

afterAll(() => {
  if (people) closeCast(people);
});

let n = 0;

/**
 * Opens a ceremony on the base tokens (root unlocked by two officers' shares, the appliance token by
 * its own PIN), runs `before` steps normally, optionally disturbs the bundle, then prepares `bad`.
 */
async function refused(
  bad: Step,
  o: { before?: Step[]; appliance?: boolean; occupy?: string } = {},
): Promise<{ message: string; kind: string; signs: SignEvent[]; session: CeremonySession }> {
  const id = `2026-BAD-${++n}`;
  const logKeyId = keyIdOf(createPublicKey(readFileSync(join(base, "keys/root/ceremony-log.pub.pem"))));
  const steps: Step[] = [
    { id: "unlock-root", action: "token.unlock", requires: Q, params: { token: "root" } },
    ...(o.appliance
      ? [{ id: "unlock-appliance", action: "token.unlock", requires: AW, params: { token: "appliance" } } as Step]
      : []),
    ...(o.before ?? []),
    bad,
  ];
  const s = script(
    id,
    {
      root: { label: "plantroot-root", access: "quorum", logKey: { label: "ceremony-log", keyId: logKeyId } },
      appliance: { label: "appliance", access: "operator" },
    },
    steps,
  );
  const signs: SignEvent[] = [];
  const session = await openSession(s, registry, people, {
    bundleDir: join(work, id),
    library: sh.library,
    operatorPins: { appliance: { value: "app-pin" } },
    pinShares: {
      root: ShareSetSchema.parse(JSON.parse(readFileSync(join(base, "tokens/root.pin-shares.json"), "utf8"))),
    },
    files,
    onSign: (e) => signs.push(e),
  });
  try {
    for (const st of steps.slice(0, -1))
      await runStep(
        session,
        st.id,
        people,
        st.requires === AW ? O.slice(0, 2) : O,
        st.id === "unlock-root" ? ["carol", "dave"] : [],
      );
    if (o.occupy) {
      const p = join(session.dir, o.occupy);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, "left over from an earlier attempt\n");
    }
    const before = signs.length;
    // the counter is live: the checkpoint after each step executed so far was signed by the log key
    expect(signs.filter((e) => e.kind === "checkpoint").length).toBe(steps.length - 1);
    const err = (await session.prepare(bad.id).then(
      () => {
        throw new Error(`step ${bad.id} was prepared although it is bad`);
      },
      (e: unknown) => e,
    )) as { kind: string; message: string };
    // the step stays unprepared: nothing to approve, nothing to execute, nothing signed
    expect(session.step(bad.id).refused?.kind).toBe(err.kind);
    expect(session.step(bad.id).prepared).toBeUndefined();
    await expect(session.execute(bad.id)).rejects.toMatchObject({ kind: "wrong-state" });
    expect(signs.slice(before)).toEqual([]);
    const last = session.transcript().at(-1)!;
    expect(last).toMatchObject({ action: "step.refused", step: bad.id });
    return { message: err.message, kind: err.kind, signs: signs.slice(before), session };
  } finally {
    session.close();
  }
}

const subca = (over: Partial<Extract<Step, { action: "cert.subca" }>["params"]>): Step => ({
  id: "bad",
  action: "cert.subca",
  requires: Q,
  params: {
    token: "root",
    issuerKey: "root-g1",
    issuerCertificate: pinned("root-g1.pem"),
    request: pinned("subca-g1.csr"),
    subject: { commonName: "Plant Nord Issuing CA G2", organization: "Plant Nord", country: "DE" },
    notBefore: "2026-06-01T00:00:00.000Z",
    notAfter: "2031-06-01T00:00:00.000Z",
    permittedDns: ["plant.example"],
    permittedIp: ["10.20.0.0/16"],
    ekus: ["serverAuth", "clientAuth"],
    ...URLS,
    output: "certs/subca-g2.pem",
    ...over,
  },
});

const crl = (over: Partial<Extract<Step, { action: "crl.issue" }>["params"]>): Step => ({
  id: "bad",
  action: "crl.issue",
  requires: Q,
  params: {
    token: "root",
    issuerKey: "root-g1",
    issuerCertificate: pinned("root-g1.pem"),
    number: 7,
    thisUpdate: "2026-11-01T00:00:00.000Z",
    nextUpdate: "2027-05-01T00:00:00.000Z",
    revoked: [{ certificate: pinned("subca-g1.pem"), reason: "superseded", date: "2026-11-01T00:00:00.000Z" }],
    output: "crls/root-g1-7.crl",
    ...over,
  },
});

describe("key.generate", () => {
  it("makes a P-384 key when the script names no spec", () => {
    const attrs = JSON.parse(readFileSync(join(base, "keys/root/root-g1.attributes.json"), "utf8"));
    expect(attrs).toMatchObject({ label: "root-g1", keyType: "P-384", neverExtractable: true });
    expect(JSON.parse(readFileSync(join(base, "keys/root/root-x1.attributes.json"), "utf8")).keyType).toBe("P-256");
    const root = new X509Certificate(files["inputs/root-g1.pem"]!);
    expect(root.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
  });
});

describe("key.generate refuses before the HSM is asked", () => {
  it("a key label already used on the token", async () => {
    const r = await refused({
      id: "bad",
      action: "key.generate",
      requires: Q,
      params: { token: "root", label: "root-g1", spec: "P-384", backup: "none" },
    });
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^key label unused: "root-g1" already exists on token "plantroot-root"/);
  });

  it("an output path (its public key file) that already exists in the bundle", async () => {
    const r = await refused(
      {
        id: "bad",
        action: "key.generate",
        requires: Q,
        params: { token: "root", label: "root-g3", spec: "P-256", backup: "none" },
      },
      { occupy: "keys/root/root-g3.pub.pem" },
    );
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("output path unused: keys/root/root-g3.pub.pem");
  });
});

describe("cert.root, cert.subca, cert.cross and cert.import refuse before the HSM signs", () => {
  it("cert.root: the output path already exists", async () => {
    const r = await refused(
      {
        id: "bad",
        action: "cert.root",
        requires: Q,
        params: {
          token: "root",
          key: "root-g1",
          subject: { commonName: "Plant Nord Root CA G1" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2036-01-01T00:00:00.000Z",
          output: "certs/root-g1-again.pem",
        },
      },
      { occupy: "certs/root-g1-again.pem" },
    );
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("output path unused: certs/root-g1-again.pem");
  });

  it("cert.subca: the issuer certificate belongs to another key than the signing key", async () => {
    const r = await refused(subca({ issuerCertificate: pinned("root-x1.pem") }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(
      /^signer matches issuer certificate: token key "root-g1" is NOT the key of issuer .*CN=Unrelated Root X1/,
    );
  });

  it("cert.subca: a weak RSA request (primes close enough for Fermat)", async () => {
    const r = await refused(subca({ request: pinned("weak-rsa.csr") }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^key quality: SubCA key: .*/);
    expect(r.message).toMatch(/fermat|factor/i);
  });

  it("cert.subca: a request carrying the issuer's own key", async () => {
    const r = await refused(subca({ request: { step: "root-csr" } }), {
      before: [
        {
          id: "root-csr",
          action: "csr.create",
          requires: Q,
          params: { token: "root", key: "root-g1", subject: { commonName: "root as SubCA" }, output: "csrs/root.csr" },
        },
      ],
    });
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("not the issuer's key: the SubCA key differs from the root key");
  });

  it("cert.subca: validity outside the issuer's", async () => {
    // starting before root G1 (2026-01-01): the action's own check
    const early = await refused(subca({ notBefore: "2025-12-01T00:00:00.000Z", notAfter: "2030-12-01T00:00:00.000Z" }));
    expect(early.kind).toBe("check-failed");
    expect(early.message).toMatch(/^within issuer validity: issuer valid 2026-01-01T00:00:00.000Z to 2036-01-01/);
    // six years (inside the SubCA profile's limit) ending after root G1: appliance/ca's builder refuses first
    const late = await refused(subca({ notBefore: "2030-06-01T00:00:00.000Z", notAfter: "2036-06-01T00:00:00.000Z" }));
    expect(late.kind).toBe("check-failed");
    expect(late.message).toBe("notAfter is beyond the issuer's notAfter");
  });

  it("cert.subca: a name constraint that is not a valid IP range", async () => {
    const r = await refused(subca({ permittedIp: ["10.20.0.0/33"] }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/10\.20\.0\.0\/33/);
  });

  it("cert.subca rotation: the new SubCA reuses the old SubCA's key", async () => {
    const r = await refused(subca({ replaces: pinned("subca-g1.pem") }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("rotation: new key: the new SubCA key differs from the old one");
  });

  it("cert.cross: the certificate to cross-sign is not a self-signed CA", async () => {
    const r = await refused({
      id: "bad",
      action: "cert.cross",
      requires: Q,
      params: {
        token: "root",
        issuerKey: "root-g1",
        issuerCertificate: pinned("root-g1.pem"),
        subjectCertificate: pinned("subca-g1.pem"),
        notBefore: "2026-06-01T00:00:00.000Z",
        notAfter: "2030-01-01T00:00:00.000Z",
        ...URLS,
        output: "certs/cross.pem",
      },
    });
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^cross-signed CA is a self-signed CA: .*CN=Plant Nord Issuing CA G1/);
  });

  it("cert.import: the certificate does not carry the appliance token's key", async () => {
    const r = await refused(
      {
        id: "bad",
        action: "cert.import",
        requires: AW,
        params: {
          token: "appliance",
          key: "subca-g1",
          certificate: pinned("root-x1.pem"),
          issuerCertificate: pinned("root-g1.pem"),
          output: "appliance/chain.pem",
        },
      },
      { appliance: true },
    );
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^matches the token key: certificate key [0-9a-f]{64}, token key [0-9a-f]{64}$/);
  });

  it("profile rules the script schema enforces: no EKU on a root, no SubCA without a CRL distribution point", () => {
    const reg = Registry.parse(registry);
    const withEku = script("2026-SCHEMA-1", { root: { label: "r", access: "quorum" } }, [
      { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
      {
        id: "root",
        action: "cert.root",
        requires: Q,
        params: {
          token: "root",
          key: "k",
          subject: { commonName: "R" },
          notBefore: "2026-01-01T00:00:00.000Z",
          notAfter: "2036-01-01T00:00:00.000Z",
          output: "certs/r.pem",
          ekus: ["serverAuth"],
        } as never,
      },
    ]);
    expect(() => loadScript(withEku, reg)).toThrow(
      expect.objectContaining({ kind: "bad-script", message: expect.stringMatching(/ekus/) }),
    );
    const { crlUrl: _, ...noCdp } = (subca({}) as Extract<Step, { action: "cert.subca" }>).params;
    const withoutCdp = script("2026-SCHEMA-2", { root: { label: "r", access: "quorum" } }, [
      { id: "init", action: "token.init", requires: Q, params: { token: "root", threshold: 2, logKey: "log" } },
      { id: "sub", action: "cert.subca", requires: Q, params: noCdp as never },
    ]);
    expect(() => loadScript(withoutCdp, reg)).toThrow(
      expect.objectContaining({ kind: "bad-script", message: expect.stringMatching(/crlUrl/) }),
    );
  });
});

describe("crl.issue refuses before the HSM signs", () => {
  it("the signing key is not the issuer certificate's key", async () => {
    const r = await refused(crl({ issuerKey: "root-x1" }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^signer matches issuer certificate: token key "root-x1" and .*CN=Plant Nord Root CA G1/);
  });

  it("nextUpdate not after thisUpdate", async () => {
    const r = await refused(crl({ nextUpdate: "2026-10-01T00:00:00.000Z" }));
    expect(r.kind).toBe("check-failed");
    // appliance/ca's CRL builder refuses these dates before the action's own list is evaluated
    expect(r.message).toBe("nextUpdate must be after thisUpdate");
  });

  it("a CRL valid for more than 12 months", async () => {
    const r = await refused(crl({ nextUpdate: "2027-12-01T00:00:00.000Z" }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("at most 12 months: nextUpdate within 366 days");
  });

  it("nextUpdate beyond the issuer's validity", async () => {
    const r = await refused(crl({ thisUpdate: "2035-06-01T00:00:00.000Z", nextUpdate: "2036-03-01T00:00:00.000Z" }));
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(/^within issuer validity: issuer valid until 2036-01-01/);
  });

  it("revoking a certificate this CA did not issue", async () => {
    const r = await refused(
      crl({
        revoked: [{ certificate: pinned("root-x1.pem"), reason: "cACompromise", date: "2026-11-01T00:00:00.000Z" }],
      }),
    );
    expect(r.kind).toBe("check-failed");
    expect(r.message).toMatch(
      /^revoked entry issued here: .*CN=Unrelated Root X1 \(serial [0-9a-f]+\) was NOT issued by this CA/,
    );
  });

  it("the output path already exists", async () => {
    const r = await refused(crl({}), { occupy: "crls/root-g1-7.crl" });
    expect(r.kind).toBe("check-failed");
    expect(r.message).toBe("output path unused: crls/root-g1-7.crl");
  });
});
