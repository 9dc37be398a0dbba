// Test helper: ports for servers a test must configure before they start (plantroot serve/demo,
// BIND, Pebble). Picked at random BELOW the kernel's ephemeral range (32768+), so no outgoing
// connection of a concurrently running test can take the port between this check and the real
// listen, and never handed out twice by one process.
import dgram from "node:dgram";
import net from "node:net";

const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const u = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    u.once("error", () => resolve(false));
    u.bind(port, host, () => u.close(() => resolve(true)));
  });
}

/** A TCP port (and UDP too when `udp`) free right now on every host given. */
export async function freePort(hosts: string[] = ["127.0.0.1"], udp = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    const checks = hosts.map((h) => tcpFree(port, h));
    if (udp) checks.push(...hosts.map((h) => udpFree(port, h)));
    if ((await Promise.all(checks)).every(Boolean)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no free port found");
}
