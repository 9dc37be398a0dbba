// The Electron main process's security configuration, checked without the Electron binary: the
// settings exported as data by console/main/security.ts (webPreferences, CSP, permission, navigation,
// window-open, request and IPC-sender policies), then the real electron-main bundle run against a
// recording stand-in of the `electron` module to prove it applies exactly those, and the real
// preload bundle to prove it exposes one checked function per command and nothing else.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { COMMANDS, channelOf } from "../../console/common/channels.js";
import {
  APP_ENTRY,
  appFileFor,
  contentSecurityPolicy,
  cspDirectives,
  devicePermissionHandler,
  isAllowedNavigation,
  isTrustedSender,
  navigationGuard,
  permissionCheckHandler,
  permissionRequestHandler,
  SCHEME_PRIVILEGES,
  securityHeaders,
  shouldBlockRequest,
  webPreferences,
  webviewGuard,
  windowOpenHandler,
} from "../../console/main/security.js";
import { buildElectron, CONSOLE_DIR } from "../../console/tools/build.js";
import type { Recorded } from "../helpers/fake-electron.js";
import { testSoftHsm } from "../helpers/softhsm.js";

const ROOT = resolve(import.meta.dirname, "../..");
const REMOTE = [
  "https://example.com/",
  "http://127.0.0.1:8443/",
  "file:///etc/passwd",
  "ws://127.0.0.1/",
  "data:text/html,<b>x</b>",
  "javascript:alert(1)",
  "app://evil/index.html",
  "app://console/other.html",
  "about:blank",
];

function preventable() {
  let prevented = false;
  return {
    preventDefault() {
      prevented = true;
    },
    get prevented() {
      return prevented;
    },
  };
}

describe("Electron security settings (as data)", () => {
  it("webPreferences keep every protection on, and nothing else is set", () => {
    expect(webPreferences("/x/preload.cjs")).toEqual({
      preload: "/x/preload.cjs",
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
      devTools: false,
      disableDialogs: true,
      autoplayPolicy: "document-user-activation-required",
    });
  });

  it("every CSP is default-src 'none' with only what the document needs, no unsafe sources", () => {
    for (const target of ["electron", "host-shell", "host-app"] as const) {
      const d = cspDirectives(target);
      const csp = contentSecurityPolicy(target);
      expect(csp.startsWith("default-src 'none'; "), target).toBe(true);
      expect(csp).not.toMatch(/unsafe-|\*|data:|blob:|https?:|filesystem:|'strict-dynamic'|nonce-|sha256-/);
      expect(d["script-src"], target).toEqual(["'self'"]);
      expect(d["style-src"], target).toEqual(["'self'"]);
      expect(d["object-src"], target).toEqual(["'none'"]);
      expect(d["base-uri"], target).toEqual(["'none'"]);
      expect(d["form-action"], target).toEqual(["'none'"]);
      expect(d["require-trusted-types-for"], target).toEqual(["'script'"]);
      expect(d["trusted-types"], target).toEqual(["'none'"]);
      expect(securityHeaders(target)).toMatchObject({
        "content-security-policy": csp,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      });
    }
    expect(cspDirectives("electron")["connect-src"]).toEqual(["'none'"]);
    expect(cspDirectives("electron")["frame-ancestors"]).toEqual(["'none'"]);
    expect(cspDirectives("electron")["frame-src"]).toEqual(["'none'"]);
    expect(cspDirectives("host-shell")["frame-ancestors"]).toEqual(["'none'"]);
    // the host's app frame: opaque origin, no popups, no top navigation, no same-origin escape
    expect(cspDirectives("host-app").sandbox).toEqual(["allow-scripts", "allow-forms"]);
  });

  it("denies every permission", () => {
    for (const p of ["media", "geolocation", "notifications", "midi", "clipboard-read", "openExternal", "usb", "hid"]) {
      let granted: boolean | undefined;
      permissionRequestHandler({}, p, (g) => {
        granted = g;
      });
      expect(granted, p).toBe(false);
    }
    expect(permissionCheckHandler()).toBe(false);
    expect(devicePermissionHandler()).toBe(false);
  });

  it("locks navigation, new windows, webviews and remote requests", () => {
    for (const url of REMOTE) {
      const e = preventable();
      navigationGuard(e, url);
      expect(e.prevented, url).toBe(true);
      expect(isAllowedNavigation(url)).toBe(false);
      expect(windowOpenHandler({ url })).toEqual({ action: "deny" });
      expect(shouldBlockRequest(url), url).toBe(url !== "app://console/other.html");
    }
    const reload = preventable();
    navigationGuard(reload, APP_ENTRY);
    expect(reload.prevented).toBe(false);
    const wv = preventable();
    webviewGuard(wv);
    expect(wv.prevented).toBe(true);
    expect(shouldBlockRequest("app://console/app.js")).toBe(false);
  });

  it("accepts IPC only from the console's own top frame", () => {
    expect(isTrustedSender({ url: APP_ENTRY, parent: null })).toBe(true);
    expect(isTrustedSender({ url: APP_ENTRY, parent: {} })).toBe(false);
    expect(isTrustedSender({ url: "app://console/other.html", parent: null })).toBe(false);
    expect(isTrustedSender({ url: "https://example.com/", parent: null })).toBe(false);
    expect(isTrustedSender({ url: "app://evil/index.html", parent: null })).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
  });

  it("serves only the renderer's three files over app://, and registers app:// without extra powers", () => {
    expect(appFileFor("app://console/index.html")?.file).toBe("index.html");
    expect(appFileFor("app://console/app.js")?.file).toBe("dist/app.js");
    expect(appFileFor("app://console/../../package.json")).toBeUndefined();
    expect(appFileFor("app://console/%2e%2e/package.json")).toBeUndefined();
    expect(appFileFor("app://other/index.html")).toBeUndefined();
    expect(SCHEME_PRIVILEGES).toEqual({
      standard: true,
      secure: true,
      supportFetchAPI: false,
      corsEnabled: false,
      bypassCSP: false,
      allowServiceWorkers: false,
      stream: false,
      codeCache: false,
    });
  });
});

describe("the electron-main bundle applies those settings", () => {
  let rec: Recorded;

  beforeAll(async () => {
    testSoftHsm();
    process.env.PLANTROOT_CONSOLE_DATA = mkdtempSync(join(tmpdir(), "console-electron-"));
    // the real main-process code, bundled like `npm run console` does, with `electron` replaced by the recorder
    const out = join(CONSOLE_DIR, "dist", "electron-main.under-test.mjs");
    await build({
      entryPoints: [join(CONSOLE_DIR, "main", "electron-main.ts")],
      outfile: out,
      bundle: true,
      format: "esm",
      platform: "node",
      packages: "external",
      logLevel: "warning",
      plugins: [
        {
          name: "fake-electron",
          setup(b) {
            b.onResolve({ filter: /^electron$/ }, () => ({ path: join(ROOT, "test/helpers/fake-electron.ts") }));
          },
        },
      ],
    });
    await import(pathToFileURL(out).href);
    rec = (globalThis as Record<string, unknown>).__fakeElectron as Recorded;
    ((globalThis as Record<string, unknown>).__fakeElectronReady as () => void)();
    await new Promise((r) => setTimeout(r, 50));
  });

  it("registers app:// as privileged and enables the sandbox for every renderer", () => {
    expect(rec.privileged).toEqual([{ scheme: "app", privileges: SCHEME_PRIVILEGES }]);
    expect(rec.sandboxEnabled).toBe(true);
  });

  it("opens one window with the safe webPreferences on app://, never file://", () => {
    expect(rec.windows).toHaveLength(1);
    const prefs = rec.windows[0]!.webPreferences as Record<string, unknown>;
    expect(prefs).toEqual(webPreferences(join(CONSOLE_DIR, "dist", "preload.cjs")));
    expect(rec.loaded).toEqual([APP_ENTRY]);
  });

  it("installs the deny-all permission handlers and cancels every remote request", () => {
    // the bundle carries its own copy of security.ts: check behaviour, not identity
    for (const p of ["media", "notifications", "openExternal", "hid"]) {
      let granted: boolean | undefined;
      (rec.permissionRequest as unknown as typeof permissionRequestHandler)({}, p, (g) => {
        granted = g;
      });
      expect(granted, p).toBe(false);
    }
    expect((rec.permissionCheck as unknown as () => boolean)()).toBe(false);
    expect((rec.devicePermission as unknown as () => boolean)()).toBe(false);
    expect(rec.displayMedia).toBeNull();
    for (const url of REMOTE.filter((u) => u !== "app://console/other.html")) {
      let cancel: boolean | undefined;
      rec.beforeRequest!({ url }, (r) => {
        cancel = r.cancel;
      });
      expect(cancel, url).toBe(true);
    }
  });

  it("guards navigation, redirects, webviews and new windows of every web contents", () => {
    const on = new Map<string, (e: { url: string; preventDefault(): void }) => void>();
    let openHandler: ((d: { url: string }) => unknown) | undefined;
    const contents = {
      on(ev: string, fn: (e: { url: string; preventDefault(): void }) => void) {
        on.set(ev, fn);
      },
      setWindowOpenHandler(fn: (d: { url: string }) => unknown) {
        openHandler = fn;
      },
    };
    (rec.appHandlers.get("web-contents-created") as unknown as (e: unknown, c: unknown) => void)({}, contents);
    expect([...on.keys()].sort()).toEqual([
      "will-attach-webview",
      "will-frame-navigate",
      "will-navigate",
      "will-redirect",
    ]);
    for (const ev of ["will-navigate", "will-frame-navigate", "will-redirect", "will-attach-webview"]) {
      const e = { url: "https://example.com/", ...preventable() };
      let prevented = false;
      on.get(ev)!({
        url: e.url,
        preventDefault() {
          prevented = true;
        },
      });
      expect(prevented, ev).toBe(true);
    }
    expect(openHandler!({ url: "https://example.com/" })).toEqual({ action: "deny" });
  });

  it("serves the renderer over app:// with the CSP header, and nothing else", async () => {
    const handle = rec.protocolHandlers.get("app")!;
    const ok = await handle(new Request("app://console/index.html"));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-security-policy")).toBe(contentSecurityPolicy("electron"));
    expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await ok.text()).toContain('<script src="app.js"></script>');
    for (const u of ["app://console/../../package.json", "app://console/main/service.ts", "app://console/"])
      expect((await handle(new Request(u))).status, u).toBe(404);
  });

  it("answers one IPC channel per command, only for the app's top frame, with schema-checked arguments", async () => {
    expect([...rec.ipc.keys()].sort()).toEqual(COMMANDS.map(channelOf).sort());
    const getState = rec.ipc.get(channelOf("getState"))!;
    const trusted = { senderFrame: { url: APP_ENTRY, parent: null } };
    expect(await getState({ senderFrame: { url: "https://example.com/", parent: null } }, {})).toMatchObject({
      ok: false,
      error: { kind: "forbidden" },
    });
    expect(await getState({ senderFrame: { url: APP_ENTRY, parent: {} } }, {})).toMatchObject({
      ok: false,
      error: { kind: "forbidden" },
    });
    expect(await getState(trusted, { extra: 1 })).toMatchObject({ ok: false, error: { kind: "bad-arguments" } });
    expect(await getState(trusted, {})).toMatchObject({ ok: true, value: { mode: "electron" } });
    const prepare = rec.ipc.get(channelOf("prepareStep"))!;
    expect(await prepare(trusted, { stepId: "../../etc" })).toMatchObject({
      ok: false,
      error: { kind: "bad-arguments" },
    });
  });
});

describe("the preload bundle", () => {
  it("exposes exactly one frozen function per command, checks arguments, and never exposes ipcRenderer", async () => {
    const { preload } = await buildElectron();
    const code = readFileSync(preload, "utf8");
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(["electron"]));
    const fake = await import("../helpers/fake-electron.js");
    const mod = { exports: {} };
    new Function("require", "module", "exports", code)(
      (name: string) => {
        if (name !== "electron") throw new Error(`preload required ${name}`);
        return fake;
      },
      mod,
      mod.exports,
    );
    const exposed = (globalThis as Record<string, unknown>).__exposed as Map<string, Record<string, unknown>>;
    expect([...exposed.keys()]).toEqual(["plantroot"]);
    const api = exposed.get("plantroot")!;
    expect(Object.isFrozen(api)).toBe(true);
    expect(Object.keys(api).sort()).toEqual([...COMMANDS].sort());
    for (const c of COMMANDS) expect(typeof api[c], c).toBe("function");
    expect(Object.values(api)).not.toContain(fake.ipcRenderer);
    const call = (c: string, a: unknown) => (api[c] as (a: unknown) => Promise<unknown>)(a);
    expect(await call("prepareStep", { stepId: "../x" })).toMatchObject({
      ok: false,
      error: { kind: "bad-arguments" },
    });
    expect(
      await call("approveStep", { stepId: "a", person: "bob", role: "officer", tokenLabel: "t", pin: "1", raw: "x" }),
    ).toMatchObject({
      ok: false,
      error: { kind: "bad-arguments" },
    });
    expect(fake.ipcRenderer.invoked).toEqual([]);
    expect(await call("getState", {})).toEqual({ ok: true, value: { channel: "plantroot:getState" } });
    expect(fake.ipcRenderer.invoked).toEqual([{ channel: "plantroot:getState", args: {} }]);
  });
});
