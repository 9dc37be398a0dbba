// The only place validation opens sockets: TCP (and TLS over it) to an already vetted IP address,
// re-checked by the network guard immediately before connect; no DNS, no agent, no pooling.
import net from "node:net";
import tls from "node:tls";
import type { NetworkGuard } from "./network-guard.js";

export interface DialTarget {
  address: string;
  port: number;
}

export type DialFailure = "refused" | "timeout" | "unreachable" | "reset" | "aborted" | "tls" | "guard";

export class DialError extends Error {
  override readonly name = "DialError";
  constructor(
    readonly failure: DialFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface DialerOptions {
  guard: NetworkGuard;
  connectTimeoutMs: number;
  /** observer called right before a socket is opened; throwing aborts the dial (tests, metrics) */
  beforeConnect?: (t: DialTarget) => void;
}

export interface TlsOptions {
  /** SNI; omitted for IP literals when undefined */
  servername?: string;
  alpn: string[];
  handshakeTimeoutMs: number;
}

const noLookup: net.LookupFunction = (hostname) => {
  throw new Error(`validation never resolves through the OS (asked for ${hostname})`);
};

function mapSocketError(e: NodeJS.ErrnoException, t: DialTarget): DialError {
  const where = `${net.isIPv6(t.address) ? `[${t.address}]` : t.address}:${t.port}`;
  switch (e.code) {
    case "ECONNREFUSED":
      return new DialError("refused", `connection refused by ${where}`);
    case "ECONNRESET":
    case "EPIPE":
      return new DialError("reset", `connection reset by ${where}`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
      return new DialError("unreachable", `${where} is unreachable (${e.code})`);
    default:
      return new DialError("unreachable", `cannot connect to ${where} (${e.code ?? e.message})`);
  }
}

export interface Dialer {
  tcp(t: DialTarget, signal: AbortSignal): Promise<net.Socket>;
  tls(t: DialTarget, o: TlsOptions, signal: AbortSignal): Promise<tls.TLSSocket>;
}

export function createDialer(opts: DialerOptions): Dialer {
  function tcp(t: DialTarget, signal: AbortSignal): Promise<net.Socket> {
    // Defence in depth: callers check the guard already; nothing connects without passing it here.
    const v = opts.guard.check(t.address, t.port);
    if (!v.allowed) return Promise.reject(new DialError("guard", v.reason));
    if (signal.aborted) return Promise.reject(new DialError("aborted", "validation deadline reached"));
    opts.beforeConnect?.(t);
    return new Promise((resolve, reject) => {
      const family = net.isIPv6(t.address) ? 6 : 4;
      const sock = net.connect({ host: t.address, port: t.port, family, lookup: noLookup, noDelay: true });
      const done = (err?: DialError) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        sock.removeListener("error", onError);
        sock.removeListener("connect", onConnect);
        if (err) {
          sock.destroy();
          reject(err);
        } else {
          resolve(sock);
        }
      };
      const onError = (e: NodeJS.ErrnoException) => done(mapSocketError(e, t));
      const onConnect = () => done();
      const onAbort = () => done(new DialError("aborted", "validation deadline reached"));
      const timer = setTimeout(
        () => done(new DialError("timeout", `connect to ${t.address} port ${t.port} timed out`)),
        opts.connectTimeoutMs,
      );
      sock.once("error", onError);
      sock.once("connect", onConnect);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async function tlsDial(t: DialTarget, o: TlsOptions, signal: AbortSignal): Promise<tls.TLSSocket> {
    const raw = await tcp(t, signal);
    return new Promise((resolve, reject) => {
      const sock = tls.connect({
        socket: raw,
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        ALPNProtocols: o.alpn,
        // The peer's certificate is inspected by the challenge itself (tls-alpn-01) or, for an
        // http-01 redirect to https, not relied on at all (RFC 8555 §8.3: the key authorization is
        // what proves control), as Boulder and Pebble do.
        rejectUnauthorized: false,
        minVersion: "TLSv1.2",
      });
      const done = (err?: DialError) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        sock.removeListener("error", onError);
        sock.removeListener("secureConnect", onSecure);
        if (err) {
          sock.destroy();
          raw.destroy();
          reject(err);
        } else {
          resolve(sock);
        }
      };
      const onError = (e: NodeJS.ErrnoException) => {
        const m = mapSocketError(e, t);
        done(
          e.code?.startsWith("ERR_SSL") || e.code?.startsWith("ERR_TLS") || /SSL|TLS|alert/i.test(e.message)
            ? new DialError("tls", `TLS handshake with ${t.address} port ${t.port} failed: ${e.code ?? e.message}`)
            : m,
        );
      };
      const onSecure = () => done();
      const onAbort = () => done(new DialError("aborted", "validation deadline reached"));
      const timer = setTimeout(
        () => done(new DialError("timeout", `TLS handshake with ${t.address} port ${t.port} timed out`)),
        o.handshakeTimeoutMs,
      );
      sock.once("error", onError);
      sock.once("secureConnect", onSecure);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  return { tcp, tls: tlsDial };
}
