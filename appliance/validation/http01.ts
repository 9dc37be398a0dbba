// http-01 (RFC 8555 §8.3, RFC 8738 for IP identifiers): fetch the key authorization from the
// target, following guarded redirects; every hop resolved, vetted and connected to by IP ourselves.
import http from "node:http";
import type net from "node:net";
import type { ValidationRecord } from "./api.js";
import {
  type ChallengeContext,
  type Host,
  type Outcome,
  clip,
  fail,
  hostForUrl,
  vetHost,
} from "./challenge-context.js";
import type { ValidationConfig } from "./config.js";
import { DialError } from "./dialer.js";
import { formatIp, parseIp } from "./ip.js";
import { isHostname, type Target } from "./names.js";

const REDIRECT = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = "plantroot-validation/1 (+RFC 8555 http-01)";

export interface Hop {
  scheme: "http" | "https";
  host: Host;
  /** host as written in the URL / Host header (name, or IP literal without brackets) */
  hostText: string;
  port: number;
  /** path and query */
  path: string;
  url: string;
}

function makeUrl(scheme: "http" | "https", hostText: string, port: number, path: string): string {
  const def = scheme === "http" ? 80 : 443;
  return `${scheme}://${hostForUrl(hostText)}${port === def ? "" : `:${port}`}${path}`;
}

/** The first request of an http-01 check. */
export function firstHop(target: Target, token: string, port: number): Hop {
  const hostText = target.kind === "dns" ? target.name : target.text;
  const host: Host = target.kind === "dns" ? { kind: "dns", name: target.name } : { kind: "ip", ip: target.ip };
  const path = `/.well-known/acme-challenge/${token}`;
  return { scheme: "http", host, hostText, port, path, url: makeUrl("http", hostText, port, path) };
}

/**
 * Where a redirect may lead (pure): http or https only, no credentials, ports 80/443 or the
 * configured http-01 / tls-alpn-01 ports respectively, a valid host name or IP literal.
 */
export function parseRedirect(
  location: string,
  from: Hop,
  ports: ValidationConfig["ports"],
): { ok: true; hop: Hop } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(location, from.url);
  } catch {
    return { ok: false, reason: `redirect to an unparsable location "${clip(location)}"` };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    return { ok: false, reason: `redirect to unsupported scheme ${clip(u.protocol)}` };
  }
  if (u.username !== "" || u.password !== "") return { ok: false, reason: "redirect URL carries credentials" };
  const scheme = u.protocol === "http:" ? "http" : "https";
  const port = u.port === "" ? (scheme === "http" ? 80 : 443) : Number(u.port);
  const okPorts = scheme === "http" ? [80, ports.http01] : [443, ports.tlsAlpn01];
  if (!okPorts.includes(port)) {
    return { ok: false, reason: `redirect to ${scheme} port ${port}; only ${[...new Set(okPorts)].join(" or ")}` };
  }
  let hostname = u.hostname;
  if (hostname.startsWith("[") && hostname.endsWith("]")) hostname = hostname.slice(1, -1);
  if (hostname.endsWith(".")) hostname = hostname.slice(0, -1);
  const ip = parseIp(hostname);
  let host: Host;
  let hostText: string;
  if (ip) {
    host = { kind: "ip", ip };
    hostText = formatIp(ip);
  } else if (isHostname(hostname)) {
    host = { kind: "dns", name: hostname };
    hostText = hostname;
  } else {
    return { ok: false, reason: `redirect to an invalid host "${clip(hostname)}"` };
  }
  const path = `${u.pathname}${u.search}`;
  return { ok: true, hop: { scheme, host, hostText, port, path, url: makeUrl(scheme, hostText, port, path) } };
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/** RFC 8555 §8.3: the body, with trailing whitespace ignored, must equal the key authorization. */
export function checkKeyAuthorizationBody(
  body: Buffer,
  keyAuthorization: string,
): { ok: true } | { ok: false; detail: string } {
  let end = body.length;
  while (end > 0 && WS.has(body[end - 1]!)) end--;
  const got = body.subarray(0, end);
  if (got.equals(Buffer.from(keyAuthorization, "utf8"))) return { ok: true };
  return {
    ok: false,
    detail: `the key authorization file did not match this challenge: expected "${keyAuthorization}", got "${clip(
      got.toString("latin1"),
    )}"`,
  };
}

interface Response {
  status: number;
  location?: string;
  body?: Buffer;
  tooLarge?: boolean;
}

class ProtocolError extends Error {}

/** One GET over a socket we opened to the vetted address; bounded in time and size. */
function exchange(sock: net.Socket, hop: Hop, ctx: ChallengeContext): Promise<Response> {
  const { requestMs } = ctx.config.timeouts;
  const max = ctx.config.maxBodyBytes;
  const def = hop.scheme === "http" ? 80 : 443;
  const hostHeader = `${hostForUrl(hop.hostText)}${hop.port === def ? "" : `:${hop.port}`}`;
  return new Promise<Response>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, res?: Response) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onAbort);
      req.destroy();
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const req = http.request({
      createConnection: () => sock,
      method: "GET",
      path: hop.path,
      setHost: false,
      headers: { Host: hostHeader, "User-Agent": USER_AGENT, Accept: "*/*", Connection: "close" },
      maxHeaderSize: 16 * 1024,
      insecureHTTPParser: false,
    });
    const timer = setTimeout(
      () => finish(new DialError("timeout", `no complete response from ${hop.url} within ${requestMs} ms`)),
      requestMs,
    );
    const onAbort = () => finish(new DialError("aborted", "validation deadline reached"));
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    req.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code?.startsWith("HPE_")) finish(new ProtocolError(`malformed HTTP response from ${hop.url} (${e.code})`));
      else if (e.code === "ECONNRESET" || e.code === "EPIPE")
        finish(new DialError("reset", `connection reset by ${hop.url}`));
      else finish(new DialError("unreachable", `request to ${hop.url} failed (${e.code ?? e.message})`));
    });
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const loc = res.headers.location;
        finish(null, { status, ...(typeof loc === "string" ? { location: loc } : {}) });
        return;
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > max) {
        finish(null, { status, tooLarge: true });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > max) finish(null, { status, tooLarge: true });
        else chunks.push(c);
      });
      res.on("end", () => finish(null, { status, body: Buffer.concat(chunks) }));
      res.on("aborted", () => finish(new DialError("reset", `response from ${hop.url} was cut short`)));
      res.on("error", () => finish(new DialError("reset", `response from ${hop.url} was cut short`)));
    });
    req.end();
  });
}

async function fetchHop(ctx: ChallengeContext, hop: Hop, address: string): Promise<Response> {
  const target = { address, port: hop.port };
  const sock =
    hop.scheme === "https"
      ? await ctx.dialer.tls(
          target,
          {
            ...(hop.host.kind === "dns" ? { servername: hop.host.name } : {}),
            alpn: ["http/1.1"],
            handshakeTimeoutMs: ctx.config.timeouts.requestMs,
          },
          ctx.signal,
        )
      : await ctx.dialer.tcp(target, ctx.signal);
  return exchange(sock, hop, ctx);
}

function dialOutcome(e: unknown): Outcome & { ok: false } {
  if (e instanceof DialError) {
    if (e.failure === "guard") return fail("connection", e.message);
    if (e.failure === "tls") return fail("tls", e.message);
    return fail("connection", e.message, e.failure !== "aborted");
  }
  if (e instanceof ProtocolError) return fail("incorrectResponse", e.message);
  throw e;
}

export async function checkHttp01(
  ctx: ChallengeContext,
  target: Target,
  token: string,
  keyAuthorization: string,
): Promise<Outcome> {
  if (target.kind === "dns" && target.wildcard) {
    return fail("rejectedIdentifier", "wildcard identifiers can only be validated with dns-01 (RFC 8555 §7.1.3)");
  }
  let hop = firstHop(target, token, ctx.config.ports.http01);
  for (let redirects = 0; ; redirects++) {
    const record: ValidationRecord = { url: hop.url, hostname: hop.hostText, port: hop.port };
    ctx.records.push(record);
    const vetted = await vetHost(ctx, hop.host, hop.port, record, redirects === 0 ? "identifier" : "redirect");
    if (!vetted.ok) return vetted;
    let res: Response | undefined;
    let lastFailure: Outcome & { ok: false } = fail("connection", `no address to try for ${hop.url}`);
    for (const address of vetted.attempts) {
      record.addressUsed = address;
      try {
        res = await fetchHop(ctx, hop, address);
        break;
      } catch (e) {
        lastFailure = dialOutcome(e);
        // only connection-level trouble moves on to the next address family
        if (!(e instanceof DialError) || ["aborted", "guard", "tls"].includes(e.failure)) return lastFailure;
      }
    }
    if (!res) return lastFailure;
    if (res.status === 200) {
      if (res.tooLarge) {
        return fail("unauthorized", `response from ${hop.url} is larger than ${ctx.config.maxBodyBytes} bytes`);
      }
      const c = checkKeyAuthorizationBody(res.body!, keyAuthorization);
      return c.ok ? { ok: true } : fail("unauthorized", `${hop.url}: ${c.detail}`);
    }
    if (REDIRECT.has(res.status)) {
      if (res.location === undefined)
        return fail("unauthorized", `${hop.url} answered HTTP ${res.status} without Location`);
      if (redirects >= ctx.config.maxRedirects) {
        return fail("connection", `too many redirects (more than ${ctx.config.maxRedirects}) ending at ${hop.url}`);
      }
      const next = parseRedirect(res.location, hop, ctx.config.ports);
      if (!next.ok) return fail("connection", `${hop.url}: ${next.reason}`);
      hop = next.hop;
      continue;
    }
    return fail("unauthorized", `${hop.url} answered HTTP ${res.status}, not 200 with the key authorization`);
  }
}
