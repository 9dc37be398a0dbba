// Test helper: loopback HTTP/HTTPS/TLS servers for validation tests, each counting the TCP
// connections it accepted (so a test can prove that a refused target was never contacted).
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import tls from "node:tls";

export interface CountingServer {
  host: string;
  port: number;
  /** TCP connections accepted so far */
  connections: number;
  close(): Promise<void>;
}

function track(server: net.Server, host: string, port: number): Promise<CountingServer> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const out: CountingServer = {
      host,
      port: 0,
      connections: 0,
      close: () =>
        new Promise((res) => {
          for (const s of sockets) s.destroy();
          server.close(() => res());
        }),
    };
    server.on("connection", (s: net.Socket) => {
      out.connections++;
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    server.once("error", reject);
    server.listen(port, host, () => {
      out.port = (server.address() as net.AddressInfo).port;
      resolve(out);
    });
  });
}

export function startHttp(host: string, handler: http.RequestListener, port = 0): Promise<CountingServer> {
  return track(http.createServer(handler), host, port);
}

export function startHttps(
  host: string,
  cred: { certPem: string; keyPem: string },
  handler: http.RequestListener,
  port = 0,
): Promise<CountingServer> {
  return track(https.createServer({ cert: cred.certPem, key: cred.keyPem }, handler), host, port);
}

export function startTls(host: string, options: tls.TlsOptions, port = 0): Promise<CountingServer> {
  const server = tls.createServer(options, (s) => {
    s.on("error", () => {});
    s.end();
  });
  server.on("tlsClientError", () => {});
  return track(server, host, port);
}

/** Runs `fn` with a listener on host:port where the port is also free on the other hosts given. */
export async function withFreePortOn<T>(hosts: string[], fn: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 10; i++) {
    const probe = await startHttp(hosts[0]!, () => {});
    const port = probe.port;
    await probe.close();
    try {
      return await fn(port);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
      last = e;
    }
  }
  throw last;
}
