// Test double of the `electron` module for the main-process wiring test (the Electron binary cannot
// be downloaded here): records what electron-main.ts registers, so the test can call those handlers.
// It stands in for Electron's API surface only; the console's own code under test runs for real.

type Handler = (...args: never[]) => unknown;

export interface Recorded {
  privileged: unknown[];
  sandboxEnabled: boolean;
  appHandlers: Map<string, Handler>;
  protocolHandlers: Map<string, (req: Request) => Response | Promise<Response>>;
  permissionRequest?: Handler;
  permissionCheck?: Handler;
  devicePermission?: Handler;
  displayMedia?: unknown;
  beforeRequest?: (details: { url: string }, cb: (r: { cancel: boolean }) => void) => void;
  windows: Array<Record<string, unknown>>;
  loaded: string[];
  ipc: Map<string, (event: unknown, args: unknown) => Promise<unknown>>;
}

export const recorded: Recorded = {
  privileged: [],
  sandboxEnabled: false,
  appHandlers: new Map(),
  protocolHandlers: new Map(),
  windows: [],
  loaded: [],
  ipc: new Map(),
};
(globalThis as Record<string, unknown>).__fakeElectron = recorded;

let resolveReady: () => void = () => undefined;
const ready = new Promise<void>((r) => {
  resolveReady = r;
});
(globalThis as Record<string, unknown>).__fakeElectronReady = () => resolveReady();

export const app = {
  enableSandbox() {
    recorded.sandboxEnabled = true;
  },
  on(event: string, fn: Handler) {
    recorded.appHandlers.set(event, fn);
  },
  whenReady() {
    return ready;
  },
  getPath() {
    return process.env.PLANTROOT_CONSOLE_DATA ?? "/nonexistent";
  },
  quit() {},
};

export const protocol = {
  registerSchemesAsPrivileged(s: unknown[]) {
    recorded.privileged.push(...s);
  },
  handle(scheme: string, fn: (req: Request) => Response) {
    recorded.protocolHandlers.set(scheme, fn);
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler(f: Handler) {
      recorded.permissionRequest = f;
    },
    setPermissionCheckHandler(f: Handler) {
      recorded.permissionCheck = f;
    },
    setDevicePermissionHandler(f: Handler) {
      recorded.devicePermission = f;
    },
    setDisplayMediaRequestHandler(f: unknown) {
      recorded.displayMedia = f;
    },
    webRequest: {
      onBeforeRequest(f: Recorded["beforeRequest"]) {
        recorded.beforeRequest = f;
      },
    },
  },
};

export class BrowserWindow {
  constructor(opts: Record<string, unknown>) {
    recorded.windows.push(opts);
  }
  removeMenu() {}
  loadURL(url: string) {
    recorded.loaded.push(url);
    return Promise.resolve();
  }
}

export const ipcMain = {
  handle(channel: string, fn: (event: unknown, args: unknown) => Promise<unknown>) {
    recorded.ipc.set(channel, fn);
  },
};

export const dialog = {
  showOpenDialog() {
    return Promise.resolve({ canceled: true, filePaths: [] });
  },
};

export const contextBridge = {
  exposeInMainWorld(name: string, api: unknown) {
    const g = globalThis as Record<string, unknown>;
    if (!g.__exposed) g.__exposed = new Map<string, unknown>();
    (g.__exposed as Map<string, unknown>).set(name, api);
  },
};

export const ipcRenderer = {
  invoked: [] as Array<{ channel: string; args: unknown }>,
  invoke(channel: string, args: unknown) {
    this.invoked.push({ channel, args });
    return Promise.resolve({ ok: true, value: { channel } });
  },
  send() {
    throw new Error("the preload must not use send");
  },
};
