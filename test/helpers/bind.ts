// Test helper: a real BIND (`named`) on loopback with one primary zone that accepts RFC 2136 dynamic
// updates signed with a TSIG key (hmac-sha256). Writes named.conf + zone into a temp dir, starts
// `named -g -c … -p PORT` on a free high port, waits until it answers, stops it and cleans up.
//
//   const dns = await startBind({ zone: "plant.test", records: ["plc1 IN A 127.0.0.1"] });
//   dns.server            // "127.0.0.1:PORT" (validation config resolver.dnsServers)
//   dns.tsig              // { name, algorithm: "hmac-sha256", secret } for RFC 2136 clients
//   dns.legoEnv()         // RFC2136_* variables for `lego --dns rfc2136 --dns.resolvers ${dns.server} --dns.disable-cp`
//   await dns.setTxt("_acme-challenge.plc1.plant.test", ["…"]);
//   await dns.stop();
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Resolver } from "node:dns/promises";
import dgram from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TsigKey {
  /** key name as configured in named.conf (no trailing dot) */
  name: string;
  algorithm: "hmac-sha256";
  /** base64 */
  secret: string;
}

export interface BindOptions {
  /** zone served (primary, dynamic); default "plant.test" */
  zone?: string;
  /** zone-file lines relative to the zone origin, e.g. `plc1 IN A 127.0.0.1` */
  records?: string[];
  /** also listen on ::1 (ignored when the kernel has no IPv6 loopback) */
  ipv6?: boolean;
}

export interface BindServer {
  zone: string;
  host: "127.0.0.1";
  port: number;
  /** "127.0.0.1:PORT" */
  server: string;
  /** "[::1]:PORT" when listening on IPv6 too */
  server6?: string;
  tsig: TsigKey;
  dir: string;
  /** Sends RFC 2136 update commands (nsupdate syntax, e.g. `update add x.plant.test. 60 TXT "v"`) signed with the TSIG key. */
  update(commands: string[]): Promise<void>;
  /** Replaces the TXT RRset of a fully qualified name (no trailing dot) with `values` (empty = delete). */
  setTxt(name: string, values: string[]): Promise<void>;
  /** Environment for lego's rfc2136 DNS provider against this server. */
  legoEnv(): Record<string, string>;
  stop(): Promise<void>;
}

/** Whether the kernel has a usable IPv6 loopback (::1). */
export async function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(0, "::1", () => s.close(() => resolve(true)));
  });
}

/** A port that is free for both TCP and UDP on the given loopback addresses right now. */
async function freePort(hosts: string[]): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once("error", reject);
      s.listen(0, hosts[0], () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const ok = await Promise.all(
      hosts.map(
        (h) =>
          new Promise<boolean>((resolve) => {
            const u = dgram.createSocket(h.includes(":") ? "udp6" : "udp4");
            u.once("error", () => resolve(false));
            u.bind(port, h, () => u.close(() => resolve(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return port;
  }
  throw new Error("no free port for named");
}

function namedConf(dir: string, zone: string, port: number, v6: boolean, key: TsigKey): string {
  return `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 port ${port} { ${v6 ? "::1;" : "none;"} };
  recursion no;
  allow-query { any; };
  allow-transfer { none; };
  dnssec-validation no;
  notify no;
  minimal-responses yes;
};
controls { };
key "${key.name}" {
  algorithm ${key.algorithm};
  secret "${key.secret}";
};
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  update-policy { grant ${key.name} zonesub ANY; };
};
`;
}

function zoneFile(zone: string, records: string[]): string {
  return [
    "$TTL 1",
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 1`,
    `@ IN NS ns1.${zone}.`,
    "ns1 IN A 127.0.0.1",
    ...records,
    "",
  ].join("\n");
}

async function waitUntilAnswering(server: string, zone: string, proc: ChildProcess, stderr: () => string) {
  const deadline = Date.now() + 15_000;
  let exited: number | null = null;
  proc.once("exit", (code) => {
    exited = code ?? -1;
  });
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`named exited (${exited}) before answering:\n${stderr().slice(-2000)}`);
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([server]);
    try {
      await r.resolveSoa(zone);
      return;
    } catch {
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  throw new Error(`named did not answer within 15 s:\n${stderr().slice(-2000)}`);
}

function run(cmd: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr || err.message}`));
      else resolve();
    });
    child.stdin?.end(input);
  });
}

export async function startBind(opts: BindOptions = {}): Promise<BindServer> {
  const zone = opts.zone ?? "plant.test";
  const v6 = (opts.ipv6 ?? false) && (await hasIpv6Loopback());
  const tsig: TsigKey = {
    name: `plantroot-test-${randomBytes(4).toString("hex")}`,
    algorithm: "hmac-sha256",
    secret: randomBytes(32).toString("base64"),
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "bind-"));
    const port = await freePort(v6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]);
    const conf = join(dir, "named.conf");
    writeFileSync(conf, namedConf(dir, zone, port, v6, tsig));
    writeFileSync(join(dir, `${zone}.zone`), zoneFile(zone, opts.records ?? []));
    const keyFile = join(dir, "tsig.key");
    writeFileSync(keyFile, `key "${tsig.name}" {\n  algorithm ${tsig.algorithm};\n  secret "${tsig.secret}";\n};\n`);
    // -g: foreground, log to stderr; -n 1: one worker (shared 2-core machines); no -u: stays the test's user
    const proc = spawn("named", ["-g", "-n", "1", "-c", conf, "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    proc.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-20_000);
    });
    const server = `127.0.0.1:${port}`;
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitUntilAnswering(server, zone, proc, () => err);
    } catch (e) {
      lastError = e;
      await stop();
      continue;
    }
    const update = (commands: string[]) =>
      run(
        "nsupdate",
        ["-k", keyFile],
        [`server 127.0.0.1 ${port}`, `zone ${zone}.`, ...commands, "send", ""].join("\n"),
      );
    return {
      zone,
      host: "127.0.0.1",
      port,
      server,
      ...(v6 ? { server6: `[::1]:${port}` } : {}),
      tsig,
      dir,
      update,
      setTxt: (name, values) =>
        update([
          `update delete ${name}. TXT`,
          ...values.map((v) => `update add ${name}. 1 TXT "${v.replace(/(["\\])/g, "\\$1")}"`),
        ]),
      legoEnv: () => ({
        RFC2136_NAMESERVER: server,
        RFC2136_TSIG_KEY: tsig.name,
        RFC2136_TSIG_SECRET: tsig.secret,
        RFC2136_TSIG_ALGORITHM: `${tsig.algorithm}.`,
        RFC2136_TTL: "1",
        RFC2136_PROPAGATION_TIMEOUT: "30",
        RFC2136_POLLING_INTERVAL: "1",
        // lego waits this long between sequential rfc2136 challenges (default 60 s)
        RFC2136_SEQUENCE_INTERVAL: "1",
      }),
      stop,
    };
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
