// The nftables profile (packaging/nftables/plantroot.nft) loaded into a network namespace of its own,
// probed from a second namespace over a veth pair (198.18.0.0/15 test addresses): ACME and the plain
// HTTP PKI port answer, metrics only from the management set, every other port is dropped.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { must, REPO, requireRoot, run } from "./helpers.js";

const PROFILE = join(REPO, "packaging/nftables/plantroot.nft");
const id = randomBytes(3).toString("hex");
const APP = `prfw-a-${id}`;
const CLIENT = `prfw-c-${id}`;
const APP_IP = "198.18.7.1";
const CLIENT_IP = "198.18.7.2";
const MGMT_IP = "198.18.7.3";
const PORTS = [443, 80, 9090, 22, 8443];
let server: ReturnType<typeof spawn> | undefined;

const inNs = (ns: string, cmd: string[]) => must("ip", ["netns", "exec", ns, ...cmd]);

/** Tries a TCP connection from the client namespace (optionally from a given source address). */
function connects(port: number, from = CLIENT_IP): boolean {
  const js = `const s=require("net").connect({host:"${APP_IP}",port:${port},localAddress:"${from}",timeout:400});
    s.on("connect",()=>{process.stdout.write("open");s.destroy()});
    s.on("timeout",()=>{process.stdout.write("timeout");s.destroy()});
    s.on("error",(e)=>process.stdout.write(e.code))`;
  return run("ip", ["netns", "exec", CLIENT, process.execPath, "-e", js]).stdout === "open";
}

beforeAll(async () => {
  requireRoot();
  must("ip", ["netns", "add", APP]);
  must("ip", ["netns", "add", CLIENT]);
  must("ip", ["link", "add", `va${id}`, "netns", APP, "type", "veth", "peer", "name", `vc${id}`, "netns", CLIENT]);
  inNs(APP, ["ip", "addr", "add", `${APP_IP}/24`, "dev", `va${id}`]);
  inNs(CLIENT, ["ip", "addr", "add", `${CLIENT_IP}/24`, "dev", `vc${id}`]);
  inNs(CLIENT, ["ip", "addr", "add", `${MGMT_IP}/24`, "dev", `vc${id}`]);
  for (const [ns, dev] of [
    [APP, `va${id}`],
    [CLIENT, `vc${id}`],
  ] as const) {
    inNs(ns, ["ip", "link", "set", dev, "up"]);
    inNs(ns, ["ip", "link", "set", "lo", "up"]);
  }
  // something listening on every port, so "closed" can only mean the firewall dropped it
  const js = `for (const p of ${JSON.stringify(PORTS)}) require("net").createServer((c)=>c.end()).listen(p,"0.0.0.0");
    process.stdout.write("listening\\n");`;
  server = spawn("ip", ["netns", "exec", APP, process.execPath, "-e", js], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => server!.stdout!.once("data", () => resolve()));
});

afterAll(() => {
  server?.kill("SIGKILL");
  run("ip", ["netns", "del", APP]);
  run("ip", ["netns", "del", CLIENT]);
});

describe("nftables profile", () => {
  it("opens exactly the ports the packaged configuration listens on", () => {
    const cfg = JSON.parse(readFileSync(join(REPO, "packaging/etc/config.json"), "utf8"));
    const nft = readFileSync(PROFILE, "utf8");
    const define = (name: string) => Number(new RegExp(`^define ${name} = (\\d+)$`, "m").exec(nft)?.[1]);
    expect(define("ACME_PORT")).toBe(cfg.listen.port);
    expect(define("PKI_HTTP_PORT")).toBe(cfg.listen.httpPort);
    expect(define("METRICS_PORT")).toBe(cfg.listen.metrics.port);
  });

  it("is valid nftables syntax (nft -c), also on a minimal system without /etc/protocols; reloads idempotently", () => {
    expect(run("nft", ["-c", "-f", PROFILE]).status).toBe(0);
    const bare = run("unshare", [
      "--mount",
      "--net",
      "sh",
      "-c",
      `mount --bind /dev/null /etc/protocols && nft -c -f ${PROFILE}`,
    ]);
    expect(bare.stderr).toBe("");
    expect(bare.status).toBe(0);
    inNs(APP, ["nft", "-f", PROFILE]);
    inNs(APP, ["nft", "-f", PROFILE]); // reloading replaces only its own table
    expect(inNs(APP, ["nft", "list", "tables"]).trim()).toBe("table inet plantroot");
  });

  it("without the profile every port answers (the listeners are real)", () => {
    inNs(APP, ["nft", "delete", "table", "inet", "plantroot"]);
    for (const p of PORTS) expect(connects(p), `port ${p}`).toBe(true);
    inNs(APP, ["nft", "-f", PROFILE]);
  });

  it("opens ACME (443) and the PKI HTTP port (80); drops SSH and everything else", () => {
    expect(connects(443)).toBe(true);
    expect(connects(80)).toBe(true);
    expect(connects(22)).toBe(false);
    expect(connects(8443)).toBe(false);
  });

  it("metrics (9090) only from the management network set", () => {
    expect(connects(9090, CLIENT_IP)).toBe(false);
    expect(connects(9090, MGMT_IP)).toBe(false); // the set starts empty: metrics reachable from nowhere
    inNs(APP, ["nft", "add", "element", "inet", "plantroot", "mgmt_v4", `{ ${MGMT_IP}/32 }`]);
    expect(connects(9090, MGMT_IP)).toBe(true);
    expect(connects(9090, CLIENT_IP)).toBe(false);
    expect(connects(443, CLIENT_IP)).toBe(true);
  });
});
