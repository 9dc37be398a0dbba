// The systemd units: hardening directives the appliance relies on are present, the HSM PIN arrives as
// a credential only, and systemd-analyze rates the service's exposure "OK" or better (offline mode:
// the machine running the tests need not boot with systemd).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO, run } from "./helpers.js";

const UNIT = join(REPO, "packaging/systemd/plantroot.service");

function directives(path: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (x) m.set(x[1]!, [...(m.get(x[1]!) ?? []), x[2]!]);
  }
  return m;
}

describe("plantroot.service", () => {
  const d = directives(UNIT);
  const one = (k: string) => d.get(k)?.join(" ");

  it("runs as the plantroot user with only CAP_NET_BIND_SERVICE and no way to gain privileges", () => {
    expect(one("User")).toBe("plantroot");
    expect(one("Group")).toBe("plantroot");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
  });

  it("sees the file system read-only except its data directory; no homes, private /tmp and devices", () => {
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ProtectHome")).toBe("yes");
    expect(one("PrivateTmp")).toBe("yes");
    expect(one("PrivateDevices")).toBe("yes");
    expect(d.get("ReadWritePaths")).toEqual(["/var/lib/plantroot"]);
    expect(one("StateDirectory")).toBe("plantroot");
  });

  it("limits sockets and system calls", () => {
    expect(one("RestrictAddressFamilies")).toBe("AF_UNIX AF_INET AF_INET6 AF_NETLINK");
    expect(d.get("SystemCallFilter")?.[0]).toBe("@system-service");
    expect(one("SystemCallArchitectures")).toBe("native");
  });

  it("gets the HSM PIN as a systemd credential, never through the environment", () => {
    expect(one("LoadCredential")).toBe("hsm-pin:/etc/plantroot/credentials/hsm-pin");
    expect(one("Environment") ?? "").not.toMatch(/PIN/i);
    expect(d.has("EnvironmentFile")).toBe(false);
    // the packaged config reads it from the credential directory systemd gives plantroot.service
    const cfg = JSON.parse(readFileSync(join(REPO, "packaging/etc/config.json"), "utf8"));
    expect(cfg.hsm.pin).toEqual({ credential: "hsm-pin" });
    // and the comment beside LoadCredential says so
    expect(readFileSync(UNIT, "utf8")).toContain('"pin": {"credential": "hsm-pin"}');
  });

  it("systemd-analyze security rates its exposure OK or better (<= 2.0 of 10)", () => {
    const r = run("systemd-analyze", ["security", "--offline=true", "--no-pager", UNIT]);
    const m = /Overall exposure level for plantroot\.service: (\d+\.\d+) (\w+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.0);
    expect(["OK", "SAFE", "PERFECT"]).toContain(m![2]);
    // --threshold is on a 0..100 scale: 20 = 2.0
    expect(run("systemd-analyze", ["security", "--offline=true", "--threshold=20", UNIT]).status).toBe(0);
  });
});
