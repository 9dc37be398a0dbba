// The operator console in real Chromium through the loopback host, on real SoftHSM tokens (one per
// participant, as smart cards would be): enrollment and presence, a reviewed script (dry run, author
// and reviewer signatures), a complete root + SubCA ceremony with 2-of-3 officers (a missing approval
// blocks the step, a wrong PIN is reported), closing, cosigning, sealing, export to "removable media",
// `plantroot ceremony verify` on the exported copy, and a tampered bundle named by the Verify screen.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "../../ceremonies/registry.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import { type ConsoleState, ROLE_TITLES, type Result, type Role, type TokenView } from "../../console/common/views.js";
import { useSoftHsm } from "../../hsm/index.js";
import { type ConsoleHost, launchChromium, startConsoleHost } from "../helpers/console-host.js";
import { ConsoleUi } from "../helpers/console-ui.js";
import { openssl } from "../helpers/softhsm.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(ROOT, process.env.CONSOLE_SCREENSHOTS) : undefined;

const CAST: Array<{ id: string; name: string; roles: Role[] }> = [
  { id: "alice", name: "Alice Admin", roles: ["admin"] },
  { id: "bob", name: "Bob Witness", roles: ["witness"] },
  { id: "carol", name: "Carol Officer", roles: ["officer"] },
  { id: "dave", name: "Dave Officer", roles: ["officer"] },
  { id: "erin", name: "Erin Officer", roles: ["officer"] },
  { id: "kim", name: "Kim Auditor", roles: ["auditor"] },
  { id: "rita", name: "Rita Reviewer", roles: ["witness"] },
];
const Q = "all(admin, witness) and 2 of officers";

let work: string;
let dataDir: string;
let media: string;
let host: ConsoleHost;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let ui: ConsoleUi;
let exported: string;

function script(registryHash: string): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-ROOT-G1",
    title: "Root CA G1 and the issuing SubCA of appliance plant-nord-1",
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave", "erin"], auditor: ["kim"], custodian: [] },
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
        title: "Initialise the root token",
        requires: Q,
        params: { token: "root", threshold: 2, logKey: "ceremony-log" },
      },
      {
        id: "unlock-root",
        action: "token.unlock",
        title: "Unlock the root token",
        requires: Q,
        params: { token: "root" },
      },
      {
        id: "root-key",
        action: "key.generate",
        title: "Generate the root key",
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
        title: "Open the appliance token",
        requires: "all(admin, witness)",
        params: { token: "appliance" },
      },
      {
        id: "subca-key",
        action: "key.generate",
        title: "Generate the SubCA key on the appliance",
        requires: Q,
        params: { token: "appliance", label: "subca-g1", spec: "P-256", backup: "none" },
      },
      {
        id: "subca-csr",
        action: "csr.create",
        title: "SubCA certificate request",
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
          crlUrl: "http://pki.plant.example/root-g1.crl",
          issuerUrl: "http://pki.plant.example/root-g1.cer",
          output: "certs/subca-g1.pem",
        },
      },
      {
        id: "subca-import",
        action: "cert.import",
        title: "Import the SubCA certificate into the appliance",
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

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "console-e2e-"));
  dataDir = join(work, "data");
  media = join(work, "media");
  mkdirSync(join(media, "usb-evidence"), { recursive: true });
  // each participant's smart card, and the appliance's own token, exist before the day
  const sh = useSoftHsm(join(work, "hsm"));
  for (const p of CAST) sh.createToken(`p-${p.id}`, `pin-${p.id}`);
  sh.createToken("appliance", "app-pin");
  host = await startConsoleHost({
    softhsmConf: sh.conf,
    args: ["--data-dir", dataDir, "--media-root", media, "--operator-pin", "appliance=env:TEST_APPLIANCE_PIN"],
    env: { TEST_APPLIANCE_PIN: "app-pin" },
  });
  browser = await launchChromium();
  const page = await browser.context.newPage();
  page.on("pageerror", (e) => console.error(`renderer error: ${e.message}`));
  ui = new ConsoleUi(page);
  await page.goto(host.url);
  await ui.app.getByRole("heading", { name: "Officers and presence" }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

async function api<T = unknown>(
  command: string,
  args: unknown,
  token = host.token,
): Promise<{ status: number; body: Result<T> }> {
  const r = await fetch(`${host.origin}/api/${command}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(args),
  });
  return { status: r.status, body: (await r.json()) as Result<T> };
}

async function approve(stepId: string, person: string, role: Role, pin = `pin-${person}`) {
  const form = ui.app.locator(`section.approve[aria-labelledby="h-approve-${stepId}"]`);
  await form.getByLabel("Approver", { exact: true }).selectOption(person);
  await form.getByLabel("As", { exact: true }).selectOption(role);
  expect(await form.getByLabel("Token", { exact: true }).inputValue()).toBe(`p-${person}`);
  await form.getByLabel("PIN", { exact: true }).fill(pin);
  return ui.act(form.getByRole("button", { name: "Approve with my token" }));
}

async function openShare(person: string) {
  const form = ui.app.locator("section.shares");
  await form.getByLabel("Share holder", { exact: true }).selectOption(person);
  await form.getByLabel("PIN", { exact: true }).fill(`pin-${person}`);
  const r = await ui.ok(form.getByRole("button", { name: "Open my share on my token" }));
  expect(r.text).toContain("Share opened");
}

async function select(stepId: string) {
  await ui.app.locator(`#step-${stepId}`).click();
  await ui.app.locator(`#h-step-${stepId}`).waitFor();
}

async function prepare(stepId: string) {
  await select(stepId);
  await ui.ok(ui.app.locator(`#prepare-${stepId}`));
  expect(await ui.app.locator(`#step-${stepId}`).innerText()).toContain("collecting approvals");
}

async function execute(stepId: string) {
  await ui.ok(ui.app.locator(`#execute-${stepId}`));
  expect(await ui.app.locator(`#step-${stepId}`).innerText()).toMatch(/done$/);
}

async function runStep(stepId: string, who: Array<[string, Role]>, shares: string[] = []) {
  await prepare(stepId);
  for (const [p, r] of who) {
    const out = await approve(stepId, p, r);
    expect(out.text, `approval by ${p}`).toContain("Approval accepted");
  }
  for (const p of shares) await openShare(p);
  await execute(stepId);
}

const AW: Array<[string, Role]> = [
  ["alice", "admin"],
  ["bob", "witness"],
];
const O = (a: string, b: string): Array<[string, Role]> => [...AW, [a, "officer"], [b, "officer"]];

describe("console: a root + SubCA ceremony in Chromium", () => {
  it("enrolls every participant on their own token", async () => {
    const enroll = ui.region("Enroll a participant");
    for (const [i, p] of CAST.entries()) {
      if (i === 0) await enroll.getByLabel("PKI name").fill("Plant Nord PKI");
      await enroll.getByLabel("ID", { exact: true }).fill(p.id);
      await enroll.getByLabel("Full name").fill(p.name);
      for (const r of p.roles) await enroll.getByLabel(ROLE_TITLES[r], { exact: true }).check();
      await enroll.getByLabel("Token", { exact: true }).selectOption(`p-${p.id}`);
      await enroll.getByLabel("PIN", { exact: true }).fill(`pin-${p.id}`);
      const r = await ui.ok(enroll.getByRole("button", { name: "Enroll" }));
      expect(r.text).toContain(`${p.name} is enrolled`);
    }
    const reg = Registry.fromJson(readFileSync(join(dataDir, "registry.json"), "utf8"));
    expect(reg.participants.map((p) => p.id)).toEqual(CAST.map((p) => p.id));
    expect(await ui.app.locator("#registry-hash").innerText()).toContain(reg.hash.slice(0, 4));
  });

  it("reports a wrong PIN at check-in and checks everyone in with the right one", async () => {
    const form = ui.region("Check in");
    await form.getByLabel("Person", { exact: true }).selectOption("carol");
    await form.getByLabel("PIN", { exact: true }).fill("not-carols-pin");
    const bad = await ui.act(form.getByRole("button", { name: "Check in with my token" }));
    expect(bad.kind).toBe("error");
    expect(bad.text).toContain("Wrong PIN");
    expect(bad.text).toContain('token "p-carol"');
    // the PIN field was cleared after use
    expect(await form.getByLabel("PIN", { exact: true }).inputValue()).toBe("");
    for (const p of CAST) {
      await form.getByLabel("Person", { exact: true }).selectOption(p.id);
      await form.getByLabel("PIN", { exact: true }).fill(`pin-${p.id}`);
      const r = await ui.ok(form.getByRole("button", { name: "Check in with my token" }));
      expect(r.text).toContain(`${p.name} is checked in`);
    }
    expect(await ui.region("Who is here").locator("caption").innerText()).toBe("7 enrolled, 7 present");
    await ui.shot(SHOTS, "01-officers.png");
  });

  it("signs the reviewed script and its dry run, then starts the ceremony", async () => {
    const reg = Registry.fromJson(readFileSync(join(dataDir, "registry.json"), "utf8"));
    const pkg = join(dataDir, "scripts", "root-g1");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "script.json"), JSON.stringify(script(reg.hash), null, 2));
    await ui.nav("Scripts");
    const card = ui.region("Root CA G1 and the issuing SubCA of appliance plant-nord-1");
    expect(await card.innerText()).toContain("Run the dry run");
    expect(await card.getByRole("button", { name: "Start this ceremony" }).isDisabled()).toBe(true);
    await ui.ok(card.getByRole("button", { name: "Run the dry run" }));
    // the dry run ran in its own process on a temporary SoftHSM: the console's token store gained nothing
    const listed = (await api<TokenView[]>("listTokens", {})).body;
    if (!listed.ok) throw new Error(listed.error.message);
    const labels = listed.value.map((t) => t.label);
    expect(labels).toContain("p-alice");
    expect(labels.filter((l) => l.startsWith("dry-"))).toEqual([]);
    const store = execFileSync("softhsm2-util", ["--show-slots"], {
      env: { ...process.env, SOFTHSM2_CONF: join(work, "hsm", "softhsm2.conf") },
      encoding: "utf8",
    });
    expect(store).toContain("p-alice");
    expect(store).not.toMatch(/Label:\s+dry-/);
    for (const who of ["alice", "rita"]) {
      await card.getByLabel("Signer", { exact: true }).selectOption(who);
      await card.getByLabel("PIN", { exact: true }).fill(`pin-${who}`);
      await ui.ok(card.getByRole("button", { name: "Sign script and dry run" }));
    }
    const sigs = await card.locator("table.sigs").innerText();
    expect(sigs).toMatch(/Alice Admin\s+author\s+signed/);
    expect(sigs).toMatch(/Rita Reviewer\s+reviewer\s+signed/);
    expect(await card.innerText()).toContain("Signed and dry-run: ready for the day.");
    await ui.shot(SHOTS, "02-scripts.png");
    await ui.ok(card.getByRole("button", { name: "Start this ceremony" }));
    await ui.app.getByRole("heading", { name: "Root CA G1 and the issuing SubCA of appliance plant-nord-1" }).waitFor();
  });

  it("has every participant sign the ceremony's attendance record with their own token", async () => {
    const form = ui.region("Attendance record");
    // rita reviewed the script but takes no part in this ceremony
    const options = await form.getByLabel("Participant", { exact: true }).locator("option").allInnerTexts();
    expect(options).toEqual([
      "Alice Admin",
      "Bob Witness",
      "Carol Officer",
      "Dave Officer",
      "Erin Officer",
      "Kim Auditor",
    ]);
    // a colleague's token is refused: nothing is recorded
    await form.getByLabel("Participant", { exact: true }).selectOption("dave");
    await form.getByLabel("Token", { exact: true }).selectOption("p-carol");
    await form.getByLabel("PIN", { exact: true }).fill("pin-carol");
    const wrong = await ui.act(form.getByRole("button", { name: "Sign the attendance record" }));
    expect(wrong.kind).toBe("error");
    expect(wrong.text).toContain("is not Dave Officer's");
    for (const p of ["alice", "bob", "carol", "dave", "erin", "kim"]) {
      await form.getByLabel("Participant", { exact: true }).selectOption(p);
      await form.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      const r = await ui.ok(form.getByRole("button", { name: "Sign the attendance record" }));
      expect(r.text).toContain("attendance is in the transcript");
    }
    expect(await ui.region("Attendance record").count()).toBe(0);
    const chips = await ui.app.getByRole("list", { name: "Participants" }).innerText();
    expect(chips.match(/✓ attendance signed/g)).toHaveLength(6);
  });

  it("initialises and unlocks the root token only with two officers' shares", async () => {
    await runStep("init-root", O("carol", "dave"));
    await prepare("unlock-root");
    for (const [p, r] of O("carol", "erin")) expect((await approve("unlock-root", p, r)).text).toContain("accepted");
    // quorum met but only one of two shares open: still blocked
    await openShare("carol");
    expect(await ui.app.locator("#execute-unlock-root").isDisabled()).toBe(true);
    expect(await ui.app.locator("#run-why-unlock-root").innerText()).toContain("1 of 2 shares are open");
    await openShare("erin");
    await execute("unlock-root");
  });

  it("shows the key attributes the HSM reports after key generation", async () => {
    await runStep("root-key", O("dave", "erin"));
    const keys = ui.app.getByRole("table", { name: "Key attributes read back from the HSM" });
    const row = await keys.locator("tbody tr").first().innerText();
    expect(row).toContain("root-g1");
    expect(row).toContain("P-384");
    expect(row).toContain("NEVER EXTRACTABLE");
    await ui.shot(SHOTS, "04-ceremony-result.png");
  });

  it("shows the root certificate to be signed; a missing approval blocks it and a wrong PIN is reported", async () => {
    await prepare("root-cert");
    const tbs = ui.region("Certificate to be signed");
    const text = await tbs.innerText();
    expect(text).toContain("C=DE, O=Plant Nord, CN=Plant Nord Root CA G1");
    expect(text).toContain("keyCertSign, cRLSign");
    const st = (await api<ConsoleState>("getState", {})).body;
    if (!st.ok) throw new Error(st.error.message);
    const tbsHash = st.value.ceremony!.steps[3]!.prepared!.tbsHash!;
    expect(text.replace(/\s/g, "")).toContain(tbsHash);
    for (const [p, r] of [...AW, ["carol", "officer"]] as Array<[string, Role]>)
      expect((await approve("root-cert", p, r)).text).toContain("accepted");
    // one officer short: the button is disabled and says why, and the engine refuses a direct call
    expect(await ui.app.locator("#execute-root-cert").isDisabled()).toBe(true);
    expect(await ui.app.locator("#quorum-status-root-cert").innerText()).toContain("Still needed");
    expect(await ui.app.locator("#run-why-root-cert").innerText()).toContain("Blocked");
    const direct = await api("executeStep", { stepId: "root-cert" });
    expect(direct.body).toMatchObject({ ok: false, error: { kind: "quorum-not-met" } });
    await ui.shot(SHOTS, "03-ceremony-blocked.png");
    // a wrong PIN: reported, nothing signed, nothing recorded as an approval
    const wrong = await approve("root-cert", "dave", "officer", "1234");
    expect(wrong.kind).toBe("error");
    expect(wrong.text).toContain("Wrong PIN — nothing was signed");
    expect(await ui.app.locator("#quorum-status-root-cert").innerText()).toContain("Still needed");
    expect((await approve("root-cert", "dave", "officer")).text).toContain("accepted");
    expect(await ui.app.locator("#quorum-status-root-cert").innerText()).toContain("Quorum met");
    await execute("root-cert");
  });

  it("makes the SubCA key on the appliance, signs its constrained certificate and imports it", async () => {
    await runStep("unlock-appliance", AW);
    await runStep("subca-key", O("carol", "dave"));
    await runStep("subca-csr", O("carol", "erin"));
    await prepare("subca-cert");
    const text = await ui.region("Certificate to be signed").innerText();
    expect(text).toContain("permitted: DNS:plant.example, IP:10.20.0.0/16");
    expect(text).toContain("serverAuth, clientAuth");
    expect(text).toContain("CA: true, path length ≤ 0");
    for (const [p, r] of [...AW, ["dave", "officer"]] as Array<[string, Role]>)
      expect((await approve("subca-cert", p, r)).text).toContain("accepted");
    // the step heading down to the certificate to be signed (name constraints, EKU, pathLen 0)
    await ui.shot(SHOTS, "05-ceremony-subca.png", {
      from: ui.app.locator("#h-step-subca-cert"),
      to: ui.region("Certificate to be signed"),
    });
    expect((await approve("subca-cert", "erin", "officer")).text).toContain("accepted");
    await execute("subca-cert");
    await runStep("subca-import", AW);
  });

  it("closes the ceremony, collects the witness's and auditor's cosignatures and seals the bundle", async () => {
    const close = ui.region("Close the ceremony");
    await ui.ok(close.getByRole("button", { name: "Close the ceremony" }));
    const cos = ui.region("Cosign and seal");
    expect(await cos.getByRole("button", { name: "Seal the evidence bundle" }).isDisabled()).toBe(true);
    for (const p of ["bob", "kim"]) {
      await cos.getByLabel("Cosigner", { exact: true }).selectOption(p);
      await cos.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      await ui.ok(cos.getByRole("button", { name: "Cosign with my token" }));
    }
    const r = await ui.ok(ui.region("Cosign and seal").getByRole("button", { name: "Seal the evidence bundle" }));
    expect(r.text).toContain("sealed");
    expect(await ui.region("Sealed").innerText()).toContain("Complete ceremony, sealed.");
  });

  it("exports the bundle to removable media, verifies the copy, and plantroot ceremony verify accepts it", async () => {
    await ui.nav("Evidence");
    const ex = ui.region("Export the evidence bundle");
    expect(await ex.getByLabel("Removable medium").inputValue()).toBe(join(media, "usb-evidence"));
    const r = await ui.ok(ex.getByRole("button", { name: "Export and verify the copy" }));
    expect(r.text).toContain("the copy verifies");
    exported = (await ex.locator(".export-result code").first().innerText()).trim();
    expect(exported.startsWith(join(media, "usb-evidence", "2026-ROOT-G1-"))).toBe(true);
    expect(await ex.locator("#export-verify").innerText()).toContain("✓ The bundle verifies");
    await ui.shot(SHOTS, "06-evidence.png");
    // the chain the ceremony produced is accepted by openssl
    expect(
      openssl([
        "verify",
        "-attime",
        "1795000000",
        "-CAfile",
        join(exported, "certs/root-g1.pem"),
        join(exported, "certs/subca-g1.pem"),
      ]),
    ).toMatch(/OK/);
    // the auditor's offline tool, as a separate process, pinned to the registry this console enrolled
    const reg = Registry.fromJson(readFileSync(join(dataDir, "registry.json"), "utf8"));
    const out = execFileSync(
      process.execPath,
      [join(ROOT, "bin/plantroot.mjs"), "ceremony", "verify", exported, "--registry-hash", reg.hash],
      { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(out).toMatch(/^VALID ceremony 2026-ROOT-G1: \d+ transcript entries, head [0-9a-f]{64}$/m);
    expect(out).not.toMatch(/not completed/);
    expect(out).toMatch(/signed statements: 6 attendance record\(s\), 0 witness exception\(s\)/);
    expect(readFileSync(join(exported, "report.txt"), "utf8")).toMatch(
      /^Attendance \(each signed with the person's own token\)\n {2}Alice Admin \(alice\) as ceremony administrator, /m,
    );
  });

  it("names the first problem of a tampered bundle on the Verify screen", async () => {
    const bad = join(media, "usb-evidence", "tampered");
    cpSync(exported, bad, { recursive: true });
    const pem = join(bad, "certs/subca-g1.pem");
    expect(existsSync(pem)).toBe(true);
    writeFileSync(pem, readFileSync(pem, "utf8").replace(/A/, "B"));
    const v = ui.region("Verify a bundle");
    await v.getByLabel("Bundle directory (absolute path)").fill(bad);
    await ui.ok(v.getByRole("button", { name: "Verify" }));
    const res = await v.locator("#verify-result").innerText();
    expect(res).toContain("✗ The bundle does NOT verify");
    expect(res).toMatch(/First problem: certs\/subca-g1\.pem/);
    await v.getByLabel("Bundle directory (absolute path)").fill(exported);
    await ui.ok(v.getByRole("button", { name: "Verify" }));
    expect(await v.locator("#verify-result").innerText()).toContain("✓ The bundle verifies");
    // pinned to another registry, the same bundle does not verify
    await v.getByLabel("Pin: registry SHA-256 (optional)").fill("0".repeat(64));
    await ui.ok(v.getByRole("button", { name: "Verify" }));
    const pinned = await v.locator("#verify-result").innerText();
    expect(pinned).toContain("✗ The bundle does NOT verify");
    expect(pinned).toMatch(/registry/i);
  });
});
