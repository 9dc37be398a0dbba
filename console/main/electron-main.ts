// The Electron main process: registers app://, opens the one console window with the settings of
// security.ts, denies permissions, navigation, new windows and remote requests, and answers one IPC
// channel per command after checking the sender frame; arguments are parsed in commands.ts.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { app, BrowserWindow, dialog, ipcMain, protocol, session, type WebContents } from "electron";
import { parsePinSource } from "../../hsm/index.js";
import { COMMANDS, channelOf } from "../common/channels.js";
import { createDispatcher } from "./commands.js";
import {
  APP_ENTRY,
  APP_SCHEME,
  appFileFor,
  devicePermissionHandler,
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
} from "./security.js";
import { ConsoleService } from "./service.js";

// built layout: console/dist/electron-main.mjs, console/dist/preload.cjs, console/renderer/...
const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = resolve(here, "../renderer");
const preloadPath = join(here, "preload.cjs");

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...SCHEME_PRIVILEGES } }]);

app.enableSandbox();
app.on("web-contents-created", (_e, contents: WebContents) => {
  contents.on("will-navigate", (e) => navigationGuard(e, e.url));
  contents.on("will-frame-navigate", (e) => navigationGuard(e, e.url));
  contents.on("will-redirect", (e) => navigationGuard(e, e.url));
  contents.on("will-attach-webview", (e) => webviewGuard(e));
  contents.setWindowOpenHandler(windowOpenHandler);
});

function envPins(): Record<string, ReturnType<typeof parsePinSource>> {
  // PLANTROOT_OPERATOR_PINS="appliance=file:/run/credentials/appliance.pin,..."
  const out: Record<string, ReturnType<typeof parsePinSource>> = {};
  for (const part of (process.env.PLANTROOT_OPERATOR_PINS ?? "").split(",").filter(Boolean)) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i)] = parsePinSource(part.slice(i + 1));
  }
  return out;
}

app.whenReady().then(() => {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler(permissionRequestHandler);
  ses.setPermissionCheckHandler(permissionCheckHandler);
  ses.setDevicePermissionHandler(devicePermissionHandler);
  ses.setDisplayMediaRequestHandler(null);
  ses.webRequest.onBeforeRequest((details, cb) => cb({ cancel: shouldBlockRequest(details.url) }));

  protocol.handle(APP_SCHEME, (request) => {
    const f = appFileFor(request.url);
    if (!f || request.method !== "GET") return new Response("not found", { status: 404 });
    const body = readFileSync(join(rendererDir, f.file));
    return new Response(body, { status: 200, headers: { "content-type": f.type, ...securityHeaders("electron") } });
  });

  const service = new ConsoleService({
    mode: "electron",
    dataDir: process.env.PLANTROOT_CONSOLE_DATA ?? join(app.getPath("userData"), "console"),
    operatorPins: envPins(),
    chooseDirectory: async (purpose) => {
      const r = await dialog.showOpenDialog({
        title: purpose === "export" ? "Export the evidence bundle to…" : "Choose a directory",
        properties: purpose === "input" ? ["openFile"] : ["openDirectory"],
      });
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
  });
  const dispatch = createDispatcher(service.handlers);
  for (const c of COMMANDS) {
    ipcMain.handle(channelOf(c), async (event, raw: unknown) => {
      if (!isTrustedSender(event.senderFrame))
        return { ok: false, error: { kind: "forbidden", message: "IPC from an unexpected frame was refused" } };
      return dispatch(c, raw);
    });
  }

  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    title: "Plantroot console",
    backgroundColor: "#f6f7f9",
    webPreferences: webPreferences(preloadPath),
  });
  win.removeMenu();
  void win.loadURL(APP_ENTRY);
  app.on("window-all-closed", () => {
    void service.close().finally(() => app.quit());
  });
});
