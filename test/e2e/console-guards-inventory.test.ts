// The operator console in real Chromium, the parts around the ceremony itself: the renderer cannot
// reach Node nor navigate away (and cannot load remote content); the loopback host refuses requests
// without its token, from other origins or host names, and bad arguments; a failing step is shown
// with its reason and the witness's signed exception goes into the evidence; the inventory reads the
// appliance's store (expiry soonest first, CRL, OCSP, SubCA expiry) and a revocation runs only after
// the quorum approved on their own tokens.
import { createServer, request as httpRequest, type Server } from "node:http";
import { verify } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import { canonicalBytes } from "../../ceremonies/jcs.js";
import { Registry } from "../../ceremonies/registry.js";
import type { CeremonyScript } from "../../ceremonies/script.js";
import type { InventoryView, Result } from "../../console/common/views.js";
import { contentSecurityPolicy } from "../../console/main/security.js";
import { HsmToken, useSoftHsm } from "../../hsm/index.js";
import { TEST_NAMES } from "../helpers/ca-fixture.js";
import { closeCast, enrollCast, prepareScript } from "../helpers/ceremony.js";
import { type ConsoleHost, launchChromium, startConsoleHost } from "../helpers/console-host.js";
import { ConsoleUi } from "../helpers/console-ui.js";
import { csrFor } from "../helpers/csr.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(ROOT, process.env.CONSOLE_SCREENSHOTS) : undefined;
const Q = "all(admin, witness) and 2 of officers";
const DAY = 86400_000;

let work: string;
let dataDir: string;
let dbPath: string;
let host: ConsoleHost;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let ui: ConsoleUi;
let registryDoc: unknown;
let evil: Server;
let evilHits: string[] = [];
let evilOrigin: string;
const issued: Array<{ serial: string; days: number }> = [];

function drillScript(registryHash: string): CeremonyScript {
  return {
    schema: "plantroot/ceremony-script/v1",
    ceremonyId: "2026-DRILL-1",
    title: "Failure drill: a CSR for a key that does not exist",
    registryHash,
    author: "alice",
    reviewers: ["rita"],
    roles: { admin: ["alice"], witness: ["bob"], officer: ["carol", "dave", "erin"], auditor: ["kim"], custodian: [] },
    approvalTtlSeconds: 3600,
    tokens: { drill: { label: "plantroot-drill", access: "quorum" } },
    logToken: "drill",
    steps: [
      {
        id: "init-drill",
        action: "token.init",
        requires: Q,
        params: { token: "drill", threshold: 2, logKey: "drill-log" },
      },
      { id: "unlock-drill", action: "token.unlock", requires: Q, params: { token: "drill" } },
      {
        id: "rsa-key",
        action: "key.generate",
        title: "An RSA-4096 key (slow on purpose)",
        requires: Q,
        params: { token: "drill", label: "drill-rsa", spec: "RSA-4096", backup: "none" },
      },
      {
        id: "csr-missing",
        action: "csr.create",
        title: "Request for a key that was never generated",
        requires: Q,
        params: { token: "drill", key: "no-such-key", subject: { commonName: "nobody" }, output: "csrs/nobody.csr" },
      },
    ],
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "console-e2e2-"));
  dataDir = join(work, "data");
  const sh = useSoftHsm(join(work, "hsm"));
  // participants enrolled before the day (their cards carry their approval keys)
  const { people, registry } = await enrollCast(sh);
  registryDoc = registry;
  mkdirSync(join(dataDir, "scripts", "drill"), { recursive: true });
  writeFileSync(join(dataDir, "registry.json"), JSON.stringify(registry, null, 2));
  const script = drillScript(Registry.parse(registry).hash);
  const { dry, signatures } = await prepareScript(script, registry, people);
  writeFileSync(join(dataDir, "scripts", "drill", "script.json"), JSON.stringify(script, null, 2));
  writeFileSync(join(dataDir, "scripts", "drill", "dry-run.json"), JSON.stringify(dry, null, 2));
  writeFileSync(join(dataDir, "scripts", "drill", "script-signatures.json"), JSON.stringify(signatures, null, 2));
  closeCast(people);

  // the appliance: a demo PKI on its own token, a store with issued certificates of different lifetimes
  const appDir = join(work, "appliance");
  sh.createToken("appliance-ca", "ca-pin");
  const token = HsmToken.open({ label: "appliance-ca", pin: { value: "ca-pin" } });
  const boot = await bootstrapDemoPki({ dir: appDir, token, pkiBaseUrl: "http://127.0.0.1:8080", names: TEST_NAMES });
  writeFileSync(join(appDir, "ca-config.json"), JSON.stringify(boot.config, null, 2));
  dbPath = join(appDir, "plantroot.db");
  const db = await Db.open(dbPath, { migrations: MIGRATIONS });
  const ca = await createCa({ config: boot.config, token, db });
  const now = Date.now();
  for (const [name, days] of [
    ["plc-7.line-2.plant.example", 200],
    ["hmi-1.plant.example", 3],
    ["gw-3.plant.example", 45],
    ["historian.plant.example", 20],
  ] as const) {
    const ids = [{ type: "dns" as const, value: name }];
    const c = await ca.issue({
      csr: csrFor(ids),
      identifiers: ids,
      requester: {},
      notAfter: new Date(now + days * DAY),
    });
    issued.push({ serial: c.serial, days });
  }
  await ca.close();
  await db.close();
  token.close();

  evil = createServer((req, res) => {
    evilHits.push(`${req.method} ${req.url}`);
    res.end("remote");
  });
  await new Promise<void>((r) => evil.listen(0, "127.0.0.2", () => r()));
  evilOrigin = `http://127.0.0.2:${(evil.address() as AddressInfo).port}`;

  host = await startConsoleHost({
    softhsmConf: sh.conf,
    args: [
      "--data-dir",
      dataDir,
      "--appliance-db",
      dbPath,
      "--appliance-config",
      join(appDir, "ca-config.json"),
      "--appliance-token",
      "appliance-ca",
      "--appliance-pin",
      "env:TEST_CA_PIN",
    ],
    env: { TEST_CA_PIN: "ca-pin" },
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
  evil?.close();
});

function rawRequest(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(host.origin);
  return new Promise((res, rej) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, path, method: opts.method ?? "GET", headers: opts.headers ?? {} },
      (r) => {
        let body = "";
        r.on("data", (d: Buffer) => {
          body += d.toString();
        });
        r.on("end", () => res({ status: r.statusCode ?? 0, headers: r.headers, body }));
      },
    );
    req.on("error", rej);
    req.end(opts.body);
  });
}

const api = (name: string, body: unknown, headers: Record<string, string> = {}) =>
  rawRequest(`/api/${name}`, {
    method: "POST",
    headers: {
      host: new URL(host.origin).host,
      authorization: `Bearer ${host.token}`,
      "content-type": "application/json",
      ...headers,
    },
    body: JSON.stringify(body),
  });

describe("the renderer is a sandboxed web page", () => {
  it("cannot reach Node, has no Node bridge, and cannot inject script or HTML", async () => {
    const f = ui.frame();
    const seen = await f.evaluate(() => {
      const g = globalThis as Record<string, unknown>;
      // an injected inline script must not run (CSP without 'unsafe-inline', Trusted Types)
      try {
        const el = document.createElement("script");
        el.textContent = "window.__injected = 1";
        document.head.append(el);
      } catch {
        /* refused by Trusted Types before CSP is even asked */
      }
      const inlineBlocked = g.__injected === undefined;
      let htmlBlocked = false;
      try {
        document.createElement("div").innerHTML = "<b>x</b>";
      } catch {
        htmlBlocked = true;
      }
      return {
        require: typeof g.require,
        process: typeof g.process,
        module: typeof g.module,
        Buffer: typeof g.Buffer,
        global: typeof g.global,
        bridge: typeof g.plantroot,
        origin: self.origin,
        inlineBlocked,
        htmlBlocked,
      };
    });
    expect(seen).toEqual({
      require: "undefined",
      process: "undefined",
      module: "undefined",
      Buffer: "undefined",
      global: "undefined",
      bridge: "undefined",
      origin: "null",
      inlineBlocked: true,
      htmlBlocked: true,
    });
  });

  it("cannot navigate away, open windows or fetch remote content", async () => {
    const page = await browser.context.newPage();
    const popups: string[] = [];
    page.on("popup", (p) => popups.push(p.url()));
    await page.goto(host.url);
    const probe = new ConsoleUi(page);
    await probe.app.getByRole("heading", { name: "Officers and presence" }).waitFor();
    const f = probe.frame();
    evilHits = [];
    const r = await f.evaluate(async (target) => {
      const out: Record<string, string> = {};
      out.open = String(window.open(`${target}/popup`));
      try {
        (top as Window).location.href = `${target}/top`;
        out.top = "navigated";
      } catch (e) {
        out.top = (e as Error).name;
      }
      try {
        await fetch(`${target}/fetch`);
        out.fetch = "reached";
      } catch (e) {
        out.fetch = (e as Error).name;
      }
      const img = new Image();
      out.img = await new Promise<string>((res) => {
        img.onload = () => res("loaded");
        img.onerror = () => res("blocked");
        img.src = `${target}/img.png`;
      });
      return out;
    }, evilOrigin);
    expect(r).toEqual({ open: "null", top: "SecurityError", fetch: "TypeError", img: "blocked" });
    // the app frame navigating itself elsewhere is refused by the shell's frame-src
    await f.evaluate((target) => {
      location.href = `${target}/self`;
    }, evilOrigin);
    await page.waitForTimeout(500);
    expect(page.url()).toBe(`${host.origin}/`);
    expect(page.frames().some((x) => x.url().startsWith(evilOrigin))).toBe(false);
    expect(popups).toEqual([]);
    expect(evilHits).toEqual([]);
    await page.close();
  });
});

describe("the loopback host", () => {
  it("serves a strict Content-Security-Policy as a header", async () => {
    const shell = await rawRequest("/", { headers: { host: new URL(host.origin).host } });
    const app = await rawRequest("/app.html", { headers: { host: new URL(host.origin).host } });
    expect(shell.headers["content-security-policy"]).toBe(contentSecurityPolicy("host-shell"));
    expect(app.headers["content-security-policy"]).toBe(contentSecurityPolicy("host-app"));
    for (const csp of [shell.headers["content-security-policy"], app.headers["content-security-policy"]]) {
      expect(csp).toMatch(/^default-src 'none'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    }
    expect(app.headers["content-security-policy"]).toContain("sandbox allow-scripts allow-forms");
    expect(app.body).not.toMatch(/<script>|\sstyle=|\son[a-z]+=/);
    expect((await rawRequest("/../../etc/passwd", { headers: { host: new URL(host.origin).host } })).status).toBe(404);
  });

  it("refuses requests without the token, from other origins and for other host names", async () => {
    expect((await api("getState", {}, { authorization: "" })).status).toBe(401);
    expect((await api("getState", {}, { authorization: `Bearer ${"x".repeat(43)}` })).status).toBe(401);
    expect((await api("getState", {}, { origin: "http://evil.example" })).status).toBe(403);
    expect((await api("getState", {}, { host: `localhost:${new URL(host.origin).port}` })).status).toBe(421);
    expect((await api("getState", {}, { "content-type": "text/plain" })).status).toBe(415);
    const ok = await api("getState", {});
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).ok).toBe(true);
  });

  it("parses every command's arguments with its schema", async () => {
    const bad = JSON.parse((await api("prepareStep", { stepId: "../../x" })).body);
    expect(bad).toMatchObject({ ok: false, error: { kind: "bad-arguments" } });
    const extra = JSON.parse((await api("getState", { sign: "these bytes" })).body);
    expect(extra).toMatchObject({ ok: false, error: { kind: "bad-arguments" } });
    // paths only on removable media or in the console's data directory
    for (const [cmd, args] of [
      ["verifyBundle", { path: "/etc" }],
      ["exportBundle", { destination: "/tmp" }],
      ["provideInput", { name: "x", person: "alice", path: "/etc/shadow" }],
    ] as const) {
      const r = JSON.parse((await api(cmd, args)).body);
      expect(r, cmd).toMatchObject({ ok: false, error: { kind: "not-allowed" } });
    }
    expect(JSON.parse((await api("verifyBundle", { path: "/etc" })).body).error.message).toMatch(/removable media/);
    const unknown = JSON.parse((await api("signBytes", { data: "AA==" })).body);
    expect(unknown).toMatchObject({
      ok: false,
      error: { kind: "bad-arguments", message: 'unknown command "signBytes"' },
    });
  });
});

describe("keyboard use", () => {
  it("labels every control, shows focus, and checks a person in without the mouse", async () => {
    const f = ui.frame();
    const unlabelled = await f.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => {
          const e = el as HTMLInputElement;
          if (el.tagName === "BUTTON") return !(el.textContent?.trim() || el.getAttribute("aria-label"));
          return !(e.labels?.length || el.getAttribute("aria-label"));
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabelled).toEqual([]);
    const form = ui.region("Check in");
    await form.getByLabel("Person", { exact: true }).focus();
    await ui.page.keyboard.press("End"); // last person in the list: Rita Reviewer
    expect(await form.getByLabel("Token", { exact: true }).inputValue()).toBe("p-rita");
    await ui.page.keyboard.press("Tab"); // token
    await ui.page.keyboard.press("Tab"); // PIN
    expect(await f.evaluate(() => document.activeElement?.id)).toBe("checkin-pin");
    await ui.page.keyboard.type("pin-rita");
    await ui.page.keyboard.press("Enter");
    await ui.app.locator("#busy.on").waitFor({ state: "detached" });
    expect(await ui.app.locator("#flash").innerText()).toContain("Rita Reviewer is checked in");
    // focus is visible on the control that has it
    await ui.page.keyboard.press("Shift+Tab");
    const outline = await f.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const cs = getComputedStyle(el);
      return { id: el.id, style: cs.outlineStyle, width: Number.parseFloat(cs.outlineWidth) };
    });
    expect(outline.style).toBe("solid");
    expect(outline.width).toBeGreaterThanOrEqual(2);
    await ui.ok(ui.app.getByRole("button", { name: "Check out Rita Reviewer" }));
  });
});

describe("a failing step and the witness's exception", () => {
  it("checks in the participants", async () => {
    const form = ui.region("Check in");
    for (const p of ["alice", "bob", "carol", "dave", "kim"]) {
      await form.getByLabel("Person", { exact: true }).selectOption(p);
      await form.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      await ui.ok(form.getByRole("button", { name: "Check in with my token" }));
    }
    expect(await ui.region("Who is here").locator("caption").innerText()).toBe("10 enrolled, 5 present");
  });

  it("shows why a step was refused, records the witness's exception, and seals an incomplete ceremony", async () => {
    await ui.nav("Scripts");
    await ui.ok(ui.region(/Failure drill/).getByRole("button", { name: "Start this ceremony" }));
    const approveAll = async (stepId: string, who: string[]) => {
      for (const p of who) {
        const form = ui.app.locator(`section.approve[aria-labelledby="h-approve-${stepId}"]`);
        await form.getByLabel("Approver", { exact: true }).selectOption(p);
        await form.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
        expect((await ui.ok(form.getByRole("button", { name: "Approve with my token" }))).text).toContain("accepted");
      }
    };
    await ui.ok(ui.app.locator("#prepare-init-drill"));
    // Erin has not checked in: her approval is refused before her token is even opened
    const form = ui.app.locator(`section.approve[aria-labelledby="h-approve-init-drill"]`);
    await form.getByLabel("Approver", { exact: true }).selectOption("erin");
    await form.getByLabel("PIN", { exact: true }).fill("pin-erin");
    const absent = await ui.act(form.getByRole("button", { name: "Approve with my token" }));
    expect(absent.kind).toBe("error");
    expect(absent.text).toContain("Not checked in");
    expect(absent.text).toContain("Erin Officer has not checked in at this console");
    // Erin arrives late: checking in during the ceremony also signs its attendance record
    await ui.nav("Officers");
    const checkIn = ui.region("Check in");
    await checkIn.getByLabel("Person", { exact: true }).selectOption("erin");
    await checkIn.getByLabel("PIN", { exact: true }).fill("pin-erin");
    await ui.ok(checkIn.getByRole("button", { name: "Check in with my token" }));
    await ui.nav("Ceremony");
    expect(await ui.app.getByRole("list", { name: "Participants" }).innerText()).toMatch(
      /Erin Officer — crypto officer · ✓ attendance signed/,
    );
    await approveAll("init-drill", ["alice", "bob", "carol", "dave"]);
    await ui.ok(ui.app.locator("#execute-init-drill"));
    await ui.app.locator("#step-unlock-drill").click();
    await ui.ok(ui.app.locator("#prepare-unlock-drill"));
    await approveAll("unlock-drill", ["alice", "bob", "carol", "dave"]);
    for (const p of ["carol", "dave"]) {
      const form = ui.app.locator("section.shares");
      await form.getByLabel("Share holder", { exact: true }).selectOption(p);
      await form.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      await ui.ok(form.getByRole("button", { name: "Open my share on my token" }));
    }
    await ui.ok(ui.app.locator("#execute-unlock-drill"));
    // a slow HSM operation shows what is happening and for how long, while it runs
    await ui.app.locator("#step-rsa-key").click();
    await ui.ok(ui.app.locator("#prepare-rsa-key"));
    await approveAll("rsa-key", ["alice", "bob", "carol", "dave"]);
    await ui.app.locator("#execute-rsa-key").click();
    const busy = ui.app.locator("#busy.on");
    await busy.waitFor();
    const progress = await busy.innerText();
    expect(progress).toContain("Running step 3: An RSA-4096 key (slow on purpose)…");
    expect(progress).toContain("RSA-4096 takes seconds to minutes");
    expect(progress).toMatch(/\d+ s/);
    await ui.shot(SHOTS, "09-progress.png");
    await busy.waitFor({ state: "detached", timeout: 180_000 });
    expect(await ui.app.locator("#step-rsa-key").innerText()).toMatch(/done$/);
    expect(await ui.app.getByRole("table", { name: "Key attributes read back from the HSM" }).innerText()).toMatch(
      /drill-rsa\s+RSA-4096\s+NEVER EXTRACTABLE/,
    );
    await ui.app.locator("#step-csr-missing").click();
    const refused = await ui.act(ui.app.locator("#prepare-csr-missing"));
    expect(refused.kind).toBe("error");
    expect(refused.text).toMatch(/no-such-key/);
    const failure = ui.region("This step was refused");
    expect(await failure.innerText()).toMatch(/no-such-key/);
    await failure.getByLabel("Witness", { exact: true }).selectOption("bob");
    await failure
      .getByLabel("What happened and what was decided")
      .fill("Key label typo in the script; ceremony ends, script to be corrected and reviewed again.");
    await failure.getByLabel("PIN", { exact: true }).fill("pin-bob");
    const rec = await ui.ok(failure.getByRole("button", { name: "Record exception" }));
    expect(rec.text).toContain("signed by the witness");
    expect(await failure.locator("ul.exceptions").innerText()).toContain("exception recorded by Bob Witness");
    await ui.shot(SHOTS, "07-failure-exception.png");

    await ui.ok(ui.region("Close the ceremony").getByRole("button", { name: "Close the ceremony as incomplete" }));
    const cos = ui.region("Cosign and seal");
    for (const p of ["bob", "kim"]) {
      await cos.getByLabel("Cosigner", { exact: true }).selectOption(p);
      await cos.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      await ui.ok(cos.getByRole("button", { name: "Cosign with my token" }));
    }
    await ui.ok(ui.region("Cosign and seal").getByRole("button", { name: "Seal the evidence bundle" }));
    const sealed = ui.region("Sealed");
    expect(await sealed.innerText()).toContain("Incomplete ceremony, sealed.");
    const bundle = (await sealed.locator(".sealed code").innerText()).trim();

    // the exception is a witness-signed statement inside the verified evidence (a step.exception entry)
    const entries = readFileSync(join(bundle, "transcript.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; step: string; person: string; inputs: Record<string, unknown> });
    const ex = entries.filter((e) => e.action === "step.exception");
    expect(ex).toHaveLength(1);
    expect(ex[0]).toMatchObject({ step: "csr-missing", person: "bob", role: "witness" });
    expect(entries.filter((e) => e.action === "attendance.recorded").map((e) => e.person)).toEqual(["erin"]);
    const doc = ex[0]!.inputs as { statement: Record<string, unknown>; signature: string };
    expect(doc.statement).toMatchObject({
      type: "plantroot/ceremony-exception/v1",
      stepId: "csr-missing",
      witness: "bob",
    });
    const bob = Registry.parse(registryDoc).require("bob");
    expect(verify("sha256", canonicalBytes(doc.statement), bob.approvalKey, Buffer.from(doc.signature, "base64"))).toBe(
      true,
    );
    await ui.nav("Evidence");
    const v = ui.region("Verify a bundle");
    await v.getByLabel("Bundle directory (absolute path)").fill(bundle);
    await ui.ok(v.getByRole("button", { name: "Verify" }));
    const res = await v.locator("#verify-result").innerText();
    expect(res).toContain("✓ The bundle verifies");
    expect(res).toContain("incomplete");
    expect(readFileSync(join(bundle, "report.txt"), "utf8")).toMatch(
      /^ {4}EXCEPTION recorded by witness bob at \S+ \([a-z-]+\): Key label typo in the script/m,
    );
  });
});

describe("inventory and revocation", () => {
  it("lists issued certificates soonest expiry first, with CRL, OCSP and the SubCA's own expiry", async () => {
    await ui.nav("Inventory");
    const sub = await ui.region("This SubCA").innerText();
    expect(sub).toMatch(/7(29|30) days left/);
    expect(await ui.region("CRL").innerText()).toContain("current");
    expect(await ui.region("OCSP").innerText()).toContain("4 good");
    const serials = await ui.app.locator("table.certs tbody tr th code").allInnerTexts();
    const expected = [...issued].sort((a, b) => a.days - b.days).map((c) => c.serial);
    expect(serials).toEqual(expected);
    const label = await ui.app.locator("svg.timeline").getAttribute("aria-label");
    expect(label).toBe("Expiry timeline: 5 certificates; soonest hmi-1.plant.example");
    expect(await ui.app.locator("svg.timeline rect.bar.critical").count()).toBe(1);
    expect(await ui.app.locator("svg.timeline rect.bar.soon").count()).toBe(1);
  });

  it("revokes only after the quorum approved on their tokens; CRL and OCSP say so", async () => {
    const soonest = [...issued].sort((a, b) => a.days - b.days)[0]!.serial;
    const row = ui.app.locator("table.certs tbody tr", { has: ui.app.locator(`code:text-is("${soonest}")`) });
    await row.getByLabel(`Reason for ${soonest}`).selectOption("keyCompromise");
    await ui.ok(row.getByRole("button", { name: "Request revocation" }));
    const card = ui.region(`Revoke ${soonest} (keyCompromise) collecting approvals`);
    const revoke = card.getByRole("button", { name: "Revoke now" });
    expect(await revoke.isDisabled()).toBe(true);
    // the console API refuses a revocation without its quorum, whatever the renderer shows
    const inv = JSON.parse((await api("getInventory", {})).body) as Result<InventoryView>;
    if (!inv.ok) throw new Error(inv.error.message);
    const requestId = inv.value.revocations.find((r) => r.serial === soonest && r.status === "collecting")!.id;
    const executeDirectly = async () => {
      const r = await api("executeRevocation", { requestId });
      expect(r.status).toBe(200); // command results travel as {ok, value | error}
      return JSON.parse(r.body) as Result<InventoryView>;
    };
    const notRevoked = async () => {
      const q = await openReadOnly(dbPath);
      const row = await q.get<{ revoked_at: number | null }>(
        "SELECT revoked_at FROM ca_certificates WHERE serial = ?",
        [soonest],
      );
      await q.close();
      expect(row).toEqual({ revoked_at: null });
    };
    expect(await executeDirectly()).toMatchObject({
      ok: false,
      error: { kind: "not-allowed", message: expect.stringMatching(/^the revocation needs more approvals: /) },
    });
    await notRevoked();
    for (const [p, role] of [
      ["alice", "admin"],
      ["carol", "officer"],
    ]) {
      await card.getByLabel("Approver", { exact: true }).selectOption(p!);
      await card.getByLabel("As", { exact: true }).selectOption(role!);
      await card.getByLabel("PIN", { exact: true }).fill(`pin-${p}`);
      await ui.ok(card.getByRole("button", { name: "Approve revocation with my token" }));
    }
    expect(await revoke.isDisabled()).toBe(true);
    expect(await card.locator(".quorum-status").innerText()).toContain("Still needed");
    // admin + one officer of "all(admin) and 2 of officers": still refused by the API, nothing revoked
    expect(await executeDirectly()).toMatchObject({
      ok: false,
      error: { kind: "not-allowed", message: expect.stringContaining("officer") },
    });
    await notRevoked();
    await card.getByLabel("Approver", { exact: true }).selectOption("dave");
    await card.getByLabel("PIN", { exact: true }).fill("pin-dave");
    await ui.ok(card.getByRole("button", { name: "Approve revocation with my token" }));
    expect(await revoke.isDisabled()).toBe(false);
    const done = await ui.ok(revoke);
    expect(done.text).toContain(`Certificate ${soonest} is revoked`);
    expect(await ui.region("OCSP").innerText()).toContain("1 revoked");
    expect(await ui.region("CRL").innerText()).toMatch(/#2[\s\S]*1 revoked entry/);
    const revokedRow = ui.app.locator("table.certs tbody tr", { has: ui.app.locator(`code:text-is("${soonest}")`) });
    expect(await revokedRow.innerText()).toMatch(/revoked/);
    await ui.shot(SHOTS, "08-inventory.png");
    const q = await openReadOnly(dbPath);
    const r = await q.get<{ revocation_reason: number; revoked_by: string }>(
      "SELECT revocation_reason, revoked_by FROM ca_certificates WHERE serial = ?",
      [soonest],
    );
    await q.close();
    expect(r).toEqual({
      revocation_reason: 1,
      revoked_by: "console: approved by alice(admin), carol(officer), dave(officer)",
    });
  });
});
