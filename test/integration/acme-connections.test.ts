// Slow-loris and connection abuse against the running appliance's ACME listener: connections that never
// start TLS, headers and bodies that trickle in, one address opening far more connections than a
// device needs. Each is cut within its bound while a device at another loopback address keeps being
// served. Limits are small here so the bounds are seconds; the defaults are checked separately.
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../appliance/server.js";
import { type Harness, startHarness } from "../helpers/acme-harness.js";

const LIMITS = {
  maxConnections: 64,
  maxConnectionsPerAddress: 16,
  handshakeTimeoutMs: 1500,
  headersTimeoutMs: 1500,
  requestTimeoutMs: 3000,
};
let h: Harness;
let port: number;

beforeAll(async () => {
  h = await startHarness({ limits: LIMITS });
  port = Number(new URL(h.directoryUrl).port);
});
afterAll(async () => {
  await h?.close();
});

/** A device at another loopback address fetching the directory: status, or the error code. */
function device(from = "127.0.0.3"): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get(h.directoryUrl, { ca: h.rootPem, agent: false, localAddress: from, timeout: 5000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

/** Opens a raw TCP connection from `from`; resolves when connected, records when the server closes it. */
function raw(from: string) {
  const t0 = performance.now();
  const s = net.connect({ port, host: "127.0.0.1", localAddress: from });
  const state = { closedAfterMs: -1, socket: s };
  s.on("error", () => undefined);
  s.on("close", () => {
    state.closedAfterMs = performance.now() - t0;
  });
  return { state, connected: new Promise<void>((r) => s.once("connect", () => r())) };
}

/** A TLS connection to the ACME listener from a given loopback address. */
function tlsFrom(from: string): tls.TLSSocket {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: from });
  return tls.connect({ socket, ca: h.rootPem, servername: "127.0.0.1" });
}

const until = async (pred: () => boolean, ms: number) => {
  const end = performance.now() + ms;
  while (!pred() && performance.now() < end) await new Promise((r) => setTimeout(r, 50));
  return pred();
};

describe("connection abuse on the ACME listener", () => {
  it("the defaults bound every phase of a connection", () => {
    expect(DEFAULT_LIMITS.handshakeTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(DEFAULT_LIMITS.requestTimeoutMs).toBeLessThanOrEqual(30_000);
    expect(DEFAULT_LIMITS.maxConnectionsPerAddress * 8).toBeLessThanOrEqual(DEFAULT_LIMITS.maxConnections);
  });

  it("connections that never start TLS: over the per-address cap refused at once, the rest cut at the handshake timeout; other devices served", async () => {
    const conns = Array.from({ length: 40 }, () => raw("127.0.0.2"));
    await Promise.all(conns.map((c) => Promise.race([c.connected, new Promise((r) => setTimeout(r, 1000))])));
    await new Promise((r) => setTimeout(r, 200));
    const early = conns.filter((c) => c.state.closedAfterMs >= 0 && c.state.closedAfterMs < 1000).length;
    expect(early).toBeGreaterThanOrEqual(40 - LIMITS.maxConnectionsPerAddress);
    expect(await device()).toBe(200); // another device is not affected
    expect(await until(() => conns.every((c) => c.state.closedAfterMs >= 0), 5000)).toBe(true);
    const held = conns.map((c) => c.state.closedAfterMs).filter((ms) => ms >= 1000);
    expect(held.length).toBeGreaterThan(0);
    for (const ms of held) expect(ms).toBeLessThan(LIMITS.handshakeTimeoutMs + 2500);
    // the address gets its share back once they are gone
    expect(await device("127.0.0.2")).toBe(200);
  });

  it("headers that trickle in after the handshake are cut at the headers timeout", async () => {
    const t0 = performance.now();
    const s = tlsFrom("127.0.0.2");
    s.on("error", () => undefined);
    await new Promise((r) => s.once("secureConnect", r));
    s.write("GET /acme/directory HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const drip = setInterval(() => !s.destroyed && s.write("X-Slow: 1\r\n"), 200);
    let closed = -1;
    s.on("close", () => {
      closed = performance.now() - t0;
    });
    expect(await until(() => closed >= 0, 8000)).toBe(true);
    clearInterval(drip);
    expect(closed).toBeLessThan(LIMITS.headersTimeoutMs + 2500);
    expect(await device()).toBe(200);
  });

  it("a body that trickles in is cut at the request timeout", async () => {
    const t0 = performance.now();
    const s = tlsFrom("127.0.0.2");
    s.on("error", () => undefined);
    await new Promise((r) => s.once("secureConnect", r));
    let reply = "";
    s.on("data", (d: Buffer) => {
      reply += d.toString();
    });
    s.write(
      `POST /acme/new-order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/jose+json\r\nContent-Length: 10000\r\n\r\n{`,
    );
    const drip = setInterval(() => !s.destroyed && s.write("a"), 200);
    let closed = -1;
    s.on("close", () => {
      closed = performance.now() - t0;
    });
    expect(await until(() => closed >= 0, 10_000)).toBe(true);
    clearInterval(drip);
    expect(closed).toBeLessThan(LIMITS.requestTimeoutMs + 2500);
    expect(reply).not.toMatch(/HTTP\/1\.1 5\d\d/);
    expect(await device()).toBe(200);
  });

  it("a burst of connections beyond maxConnections from many addresses leaves the listener working", async () => {
    const conns = [2, 4, 5, 6, 7, 8].flatMap((x) => Array.from({ length: 16 }, () => raw(`127.0.1.${x}`)));
    await new Promise((r) => setTimeout(r, 300));
    expect(await until(() => conns.every((c) => c.state.closedAfterMs >= 0), LIMITS.handshakeTimeoutMs + 3000)).toBe(
      true,
    );
    expect(await device()).toBe(200);
  });
});
