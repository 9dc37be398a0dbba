// The nftables profile (packaging/nftables/plantroot.nft) loaded into a network namespace of its own,
// probed from a second namespace over a veth pair (198.18.0.0/15 test addresses): ACME and the plain
// HTTP PKI port answer, metrics only from the management set, every other port is dropped. Then the
// appliance image's /etc/nftables.conf (the profile plus DHCP replies) the same way.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { must, REPO, requireRoot, run } from "./helpers.js";

const PROFILE = join(REPO, "packaging/nftables/plantroot.nft");
const IMAGE_CONF = join(REPO, "packaging/image/nftables.conf");
const id = randomBytes(3).toString("hex");
const APP = `prfw-a-${id}`;
const CLIENT = `prfw-c-${id}`;
const APP_IP = "198.18.7.1";
const CLIENT_IP = "198.18.7.2";
const MGMT_IP = "198.18.7.3";
const PORTS = [443, 80, 9090, 22, 8443];
const UDP_PORTS = [68, 69];
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

/** Sends a UDP datagram from the client namespace; true when the app namespace's echo comes back. */
function udpGetsIn(sport: number, dport: number): boolean {
  const js = `const s=require("dgram").createSocket("udp4");
    s.bind(${sport},"${CLIENT_IP}",()=>s.send("probe",${dport},"${APP_IP}"));
    s.on("message",()=>{process.stdout.write("echo");process.exit(0)});
    setTimeout(()=>process.exit(0),400)`;
  return run("ip", ["netns", "exec", CLIENT, process.execPath, "-e", js]).stdout === "echo";
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
    for (const p of ${JSON.stringify(UDP_PORTS)}) { const u=require("dgram").createSocket("udp4");
      u.on("message",(m,r)=>u.send(m,r.port,r.address)); u.bind(p,"0.0.0.0"); }
    setTimeout(()=>process.stdout.write("listening\\n"),200);`;
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

  it("the appliance image's ruleset: the profile plus DHCP replies (server port 67 to client port 68), nothing more", () => {
    // the image's /etc/nftables.conf, with its include pointing at the profile in this tree
    const conf = join(mkdtempSync(join(tmpdir(), "prfw-")), "nftables.conf");
    writeFileSync(conf, readFileSync(IMAGE_CONF, "utf8").replace('"/etc/plantroot/nftables.conf"', `"${PROFILE}"`));
    expect(readFileSync(conf, "utf8")).toContain(`include "${PROFILE}"`);
    expect(udpGetsIn(67, 68)).toBe(false); // the profile alone (loaded above) drops DHCP replies
    // without a firewall, UDP reaches both listeners
    inNs(APP, ["nft", "flush", "ruleset"]);
    expect(udpGetsIn(67, 68)).toBe(true);
    expect(udpGetsIn(1067, 69)).toBe(true);
    inNs(APP, ["nft", "-f", conf]);
    inNs(APP, ["nft", "-f", conf]); // what `systemctl reload nftables` does: same result
    expect(inNs(APP, ["nft", "list", "tables"]).trim()).toBe("table inet plantroot");
    expect(udpGetsIn(67, 68)).toBe(true); // a DHCP server's reply
    expect(udpGetsIn(1067, 68)).toBe(false); // port 68, but not from a DHCP server
    expect(udpGetsIn(67, 69)).toBe(false);
    expect(udpGetsIn(1067, 69)).toBe(false);
    // the profile's rules are all still there
    expect(connects(443)).toBe(true);
    expect(connects(80)).toBe(true);
    expect(connects(22)).toBe(false);
    expect(connects(9090, MGMT_IP)).toBe(false); // the management set starts empty again
  });
});
