// The Electron security settings, as data and pure functions so a test can check them without the
// Electron binary: webPreferences, the Content-Security-Policy, permission, navigation, window-open,
// request and IPC-sender policies. electron-main.ts applies exactly these; nothing here imports Electron.

export const APP_SCHEME = "app";
export const APP_HOST = "console";
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/** The renderer's files the app:// protocol serves (nothing else, no directory mapping). */
export const APP_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "dist/app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};

/** How the app:// scheme is registered: standard and secure, nothing that widens what it may do. */
export const SCHEME_PRIVILEGES = {
  standard: true,
  secure: true,
  supportFetchAPI: false,
  corsEnabled: false,
  bypassCSP: false,
  allowServiceWorkers: false,
  stream: false,
  codeCache: false,
} as const;

/** webPreferences of the console window. */
export function webPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
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
  } as const;
}

/** CSP directives; 'none' by default and only what each document needs. */
const BASE = {
  "default-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "object-src": ["'none'"],
  "require-trusted-types-for": ["'script'"],
  "trusted-types": ["'none'"],
};

export type CspTarget = "electron" | "host-shell" | "host-app";

export function cspDirectives(target: CspTarget): Record<string, string[]> {
  switch (target) {
    case "electron":
      // the renderer talks to the main process over IPC only: no fetch at all
      return {
        ...BASE,
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'none'"],
        "frame-src": ["'none'"],
        "frame-ancestors": ["'none'"],
      };
    case "host-shell":
      // the loopback host's outer page: no content of its own, one framed app document
      return {
        ...BASE,
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "frame-src": ["'self'"],
        "frame-ancestors": ["'none'"],
      };
    case "host-app":
      // the app inside the shell: an opaque-origin sandbox (no popups, no top navigation, no parent access)
      return {
        ...BASE,
        sandbox: ["allow-scripts", "allow-forms"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-src": ["'none'"],
        "frame-ancestors": ["'self'"],
      };
  }
}

export function contentSecurityPolicy(target: CspTarget): string {
  return Object.entries(cspDirectives(target))
    .map(([k, v]) => `${k} ${v.join(" ")}`)
    .join("; ");
}

/** Headers sent with every document and file (app:// protocol handler and loopback host). */
export function securityHeaders(target: CspTarget): Record<string, string> {
  return {
    "content-security-policy": contentSecurityPolicy(target),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    // the host's app frame has an opaque origin, so its own script and style are "cross-origin" to it
    ...(target === "host-app" ? {} : { "cross-origin-resource-policy": "same-origin" }),
    "x-frame-options": target === "host-app" ? "SAMEORIGIN" : "DENY",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=(), payment=()",
    "cache-control": "no-store",
  };
}

/** Every permission request (camera, notifications, USB, ...) is refused. */
export function permissionRequestHandler(
  _webContents: unknown,
  _permission: string,
  callback: (granted: boolean) => void,
): void {
  callback(false);
}

export function permissionCheckHandler(): boolean {
  return false;
}

export function devicePermissionHandler(): boolean {
  return false;
}

/** The console is one page: no navigation at all, except reloading the entry document itself. */
export function isAllowedNavigation(url: string): boolean {
  return url === APP_ENTRY;
}

/** `will-navigate`, `will-redirect`, `will-frame-navigate` guard. */
export function navigationGuard(event: { preventDefault(): void }, url: string): void {
  if (!isAllowedNavigation(url)) event.preventDefault();
}

/** `setWindowOpenHandler`: no new windows, ever. */
export function windowOpenHandler(_details: { url: string }): { action: "deny" } {
  return { action: "deny" };
}

/** `will-attach-webview`: no webviews. */
export function webviewGuard(event: { preventDefault(): void }): void {
  event.preventDefault();
}

/** No remote content: every request that is not for app:// is cancelled (webRequest.onBeforeRequest). */
export function shouldBlockRequest(url: string): boolean {
  try {
    const u = new URL(url);
    return !(u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST);
  } catch {
    return true;
  }
}

/** IPC is accepted only from the console's own top frame, loaded from app://. */
export function isTrustedSender(frame: { url: string; parent: unknown } | null | undefined): boolean {
  if (!frame || frame.parent) return false;
  try {
    const u = new URL(frame.url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.pathname === "/index.html";
  } catch {
    return false;
  }
}

/** Resolves an app:// request to one of APP_FILES, or undefined (404). */
export function appFileFor(url: string): { file: string; type: string } | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return undefined;
    return APP_FILES[u.pathname];
  } catch {
    return undefined;
  }
}
