// The CA's plain-HTTP endpoints as a Koa app: CA certificates at the AIA URL, the CRL at the CDP
// URL, and the OCSP responder (GET and POST, RFC 6960 Appendix A). Mounted on the appliance's HTTP listener.
import Koa from "koa";
import type { CurrentCrl } from "./crl-service.js";
import type { OcspAnswer } from "./ocsp-responder.js";

/** What the endpoints need from the CA (the Ca class provides it). */
export interface PkiHttpSource {
  ocsp: { respond(request: Buffer): Promise<OcspAnswer> };
  crl: { current(): CurrentCrl | undefined };
  caCertificates(): { issuing: Buffer; root: Buffer; rootCrl: Buffer | undefined };
}

export const PKI_PATHS = {
  issuingCert: "/ca/issuing.crt",
  rootCert: "/ca/root.crt",
  issuingCrl: "/ca/issuing.crl",
  rootCrl: "/ca/root.crl",
  ocsp: "/ocsp",
} as const;

const MAX_OCSP_REQUEST = 8 * 1024;

function readBody(req: NodeJS.ReadableStream, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function decodeGetRequest(rest: string): Buffer | undefined {
  let s: string;
  try {
    s = decodeURIComponent(rest);
  } catch {
    return undefined;
  }
  if (s.length > (MAX_OCSP_REQUEST * 4) / 3 + 4) return undefined;
  if (!/^[A-Za-z0-9+/=_-]+$/.test(s)) return undefined;
  return Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}

/** A Koa app serving the PKI endpoints; mount it (e.g. with koa-mount or as the HTTP listener's app). */
export function createPkiHttpApp(ca: PkiHttpSource): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch {
      ctx.status = 500;
      ctx.type = "text/plain";
      ctx.body = "internal error\n";
    }
  });
  app.use(async (ctx) => {
    const { method, path } = ctx;
    const isGet = method === "GET" || method === "HEAD";
    const der = (body: Buffer, type: string, maxAge = 3600) => {
      ctx.status = 200;
      ctx.type = type;
      ctx.set("Cache-Control", `public, max-age=${maxAge}`);
      ctx.body = body;
    };
    if (isGet && path === PKI_PATHS.issuingCert) return der(ca.caCertificates().issuing, "application/pkix-cert");
    if (isGet && path === PKI_PATHS.rootCert) return der(ca.caCertificates().root, "application/pkix-cert");
    if (isGet && path === PKI_PATHS.rootCrl) {
      const crl = ca.caCertificates().rootCrl;
      if (!crl) {
        ctx.status = 404;
        return;
      }
      return der(crl, "application/pkix-crl", 3600);
    }
    if (isGet && path === PKI_PATHS.issuingCrl) {
      const crl = ca.crl.current();
      if (!crl) {
        ctx.status = 503;
        ctx.set("Retry-After", "10");
        return;
      }
      const left = Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000);
      ctx.set("Last-Modified", crl.thisUpdate.toUTCString());
      ctx.set("Expires", crl.nextUpdate.toUTCString());
      return der(crl.der, "application/pkix-crl", Math.max(0, Math.min(left, 3600)));
    }
    if (path === PKI_PATHS.ocsp || path.startsWith(`${PKI_PATHS.ocsp}/`)) {
      let request: Buffer | undefined;
      if (method === "POST" && path === PKI_PATHS.ocsp) {
        const type = (ctx.get("Content-Type") || "").split(";")[0]!.trim().toLowerCase();
        if (type !== "application/ocsp-request") {
          ctx.status = 415;
          return;
        }
        request = await readBody(ctx.req, MAX_OCSP_REQUEST);
        if (!request) {
          ctx.status = 413;
          return;
        }
      } else if (isGet && path.startsWith(`${PKI_PATHS.ocsp}/`)) {
        // use the raw URL: base64 may contain "/" that must not be normalised away
        const raw = ctx.originalUrl.split("?")[0]!.slice(PKI_PATHS.ocsp.length + 1);
        request = decodeGetRequest(raw) ?? Buffer.alloc(0);
      } else {
        ctx.status = 405;
        ctx.set("Allow", "GET, POST");
        return;
      }
      const answer = await ca.ocsp.respond(request);
      ctx.status = 200;
      ctx.type = "application/ocsp-response";
      ctx.set("Cache-Control", answer.maxAge > 0 ? `public, max-age=${answer.maxAge}` : "no-cache");
      ctx.body = answer.der;
      return;
    }
    ctx.status = 404;
  });
  return app;
}
