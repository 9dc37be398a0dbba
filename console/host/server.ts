// The loopback host: serves the console renderer to plain Chromium (tests, dry runs on any
// workstation) and the same ceremony-level commands as POST /api/<command> on 127.0.0.1, each request
// carrying the per-launch random token. The renderer runs in an opaque-origin sandboxed frame.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createDispatcher } from "../main/commands.js";
import { type CspTarget, securityHeaders } from "../main/security.js";
import type { Handlers } from "../main/service.js";

export const MAX_BODY_BYTES = 256 * 1024;

const SHELL_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Plantroot console</title><link rel="stylesheet" href="/shell.css"></head>
<body><iframe id="app" title="Plantroot console" sandbox="allow-scripts allow-forms" src="about:blank"></iframe>
<script src="/shell.js"></script></body>
</html>
`;
// hands the token (in the fragment, never sent to a server) to the app frame and clears the address bar
const SHELL_JS = `"use strict";
(function () {
  var f = document.getElementById("app");
  f.src = "/app.html" + location.hash;
  if (location.hash) history.replaceState(null, "", "/");
  f.focus();
})();
`;
const SHELL_CSS = `html,body{margin:0;height:100%;background:#f4f5f7}iframe{border:0;width:100%;height:100%;display:block}`;

export interface HostOptions {
  handlers: Handlers;
  /** console/renderer (index.html, app.css, dist/app.js) */
  rendererDir: string;
  /** 0 = a free port chosen by the OS */
  port?: number;
  /** fixed token (tests); default 32 random bytes */
  token?: string;
  log?: (m: string) => void;
}

export interface RunningHost {
  server: Server;
  port: number;
  token: string;
  /** the address to open, with the token in the fragment */
  url: string;
  close(): Promise<void>;
}

interface Static {
  body: Buffer | string;
  type: string;
  csp: CspTarget;
}

export async function startHost(o: HostOptions): Promise<RunningHost> {
  const token = o.token ?? randomBytes(32).toString("base64url");
  const tokenBuf = Buffer.from(token);
  const dispatch = createDispatcher(o.handlers, o.log);
  const file = (rel: string) => readFileSync(join(o.rendererDir, rel));
  const statics = (): Record<string, Static> => ({
    "/": { body: SHELL_HTML, type: "text/html; charset=utf-8", csp: "host-shell" },
    "/shell.js": { body: SHELL_JS, type: "text/javascript; charset=utf-8", csp: "host-shell" },
    "/shell.css": { body: SHELL_CSS, type: "text/css; charset=utf-8", csp: "host-shell" },
    "/app.html": { body: file("index.html"), type: "text/html; charset=utf-8", csp: "host-app" },
    "/app.js": { body: file("dist/app.js"), type: "text/javascript; charset=utf-8", csp: "host-app" },
    "/app.css": { body: file("app.css"), type: "text/css; charset=utf-8", csp: "host-app" },
  });
  let port = 0;

  const send = (res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string) => {
    res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, value: unknown) =>
    send(
      res,
      status,
      {
        ...securityHeaders("host-app"),
        "content-type": "application/json; charset=utf-8",
        // the app's frame has an opaque origin ("null"); the token, not the origin, authorises
        "access-control-allow-origin": "null",
        vary: "origin",
      },
      JSON.stringify(value),
    );

  const authorised = (req: IncomingMessage): boolean => {
    const h = req.headers.authorization ?? "";
    if (!h.startsWith("Bearer ")) return false;
    const given = Buffer.from(h.slice(7));
    return given.length === tokenBuf.length && timingSafeEqual(given, tokenBuf);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // DNS rebinding: only our own loopback address names this server
    if (req.headers.host !== `127.0.0.1:${port}`)
      return send(res, 421, { "content-type": "text/plain" }, "wrong host\n");
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    if (url.pathname.startsWith("/api/")) {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== "null")
        return json(res, 403, { ok: false, error: { kind: "forbidden", message: "cross-origin request refused" } });
      if (req.method === "OPTIONS")
        return send(
          res,
          204,
          {
            "access-control-allow-origin": "null",
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": "authorization, content-type",
            "access-control-max-age": "600",
            vary: "origin",
          },
          "",
        );
      if (req.method !== "POST")
        return json(res, 405, { ok: false, error: { kind: "forbidden", message: "POST only" } });
      if (!authorised(req))
        return json(res, 401, {
          ok: false,
          error: { kind: "forbidden", message: "missing or wrong console token: open the address the host printed" },
        });
      if (!(req.headers["content-type"] ?? "").startsWith("application/json"))
        return json(res, 415, { ok: false, error: { kind: "bad-arguments", message: "JSON bodies only" } });
      let raw: unknown;
      try {
        raw = JSON.parse((await readBody(req)).toString("utf8") || "{}");
      } catch (e) {
        return json(res, 400, { ok: false, error: { kind: "bad-arguments", message: (e as Error).message } });
      }
      const name = url.pathname.slice(5);
      return json(res, 200, await dispatch(name, raw));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, { "content-type": "text/plain" }, "");
    const s = statics()[url.pathname];
    if (!s) return send(res, 404, { ...securityHeaders("host-app"), "content-type": "text/plain" }, "not found\n");
    return send(res, 200, { ...securityHeaders(s.csp), "content-type": s.type }, s.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      o.log?.(`console host: ${(e as Error).message}`);
      if (!res.headersSent) send(res, 500, { "content-type": "text/plain" }, "error\n");
      else res.destroy();
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 15 * 60_000; // an RSA-4096 key generation on a slow HSM takes a while
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    token,
    url: `http://127.0.0.1:${port}/#token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY_BYTES) {
        reject(new BodyTooLarge(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
