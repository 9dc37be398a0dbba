// `plantroot status` (cli/commands/status.ts) on a real CA (SoftHSM token, sqlite store, its CRL
// published at start): the last CRL is reported with its number and nextUpdate; the expiry alarm
// (--warn-days) and a CRL past its nextUpdate are problems that make it exit 1.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CaFixture, caFixture } from "../helpers/ca-fixture.js";
import { plantroot } from "../helpers/plantroot-cli.js";

const MINUTE = 60_000;

/** A stopped CA's data with a config file pointing at it, as /etc/plantroot/config.json would. */
async function stoppedCa(
  overrides: Record<string, unknown> = {},
  opts: { now?: () => Date } = {},
): Promise<{ config: string; fixture: CaFixture }> {
  const f = await caFixture(overrides, opts);
  await f.close();
  const label = f.token.label;
  const etc = join(f.dir, "etc");
  mkdirSync(etc);
  writeFileSync(join(etc, "hsm-pin"), "1234", { mode: 0o600 });
  const config = join(etc, "config.json");
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: f.dir,
      hsm: { library: "/usr/lib/softhsm/libsofthsm2.so", token: label, pin: { file: join(etc, "hsm-pin") } },
      ca: { certificates: { root: f.boot.paths.root, issuing: f.boot.paths.issuing } },
    }),
  );
  chmodSync(config, 0o640);
  return { config, fixture: f };
}

async function status(config: string, ...args: string[]) {
  const r = await plantroot(["status", "--config", config, "--json", ...args]);
  return { code: r.code, stderr: r.stderr, st: JSON.parse(r.stdout) };
}

describe("plantroot status", () => {
  it("reports the last CRL; healthy exits 0; the expiry alarm and an overdue CRL exit 1", async () => {
    const t0 = Date.now();
    const { config } = await stoppedCa();
    const ok = await status(config);
    expect(ok.st.problems).toEqual([]);
    expect(ok.code, ok.stderr).toBe(0);
    const crl = ok.st.ca.lastCrl;
    expect(crl.number).toBeGreaterThanOrEqual(1);
    expect(crl.entries).toBe(0);
    expect(Date.parse(crl.thisUpdate)).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
    expect(Date.parse(crl.thisUpdate)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(crl.nextUpdate)).toBeGreaterThan(Date.now());
    const text = await plantroot(["status", "--config", config]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`last CRL  number ${crl.number}  thisUpdate ${crl.thisUpdate}`);
    expect(text.stdout).toMatch(/\nstatus: OK$/m);

    // every CA certificate expires within a warning window this long: each is a problem
    const warn = await status(config, "--warn-days", "100000");
    expect(warn.code).toBe(1);
    const roles = warn.st.ca.certificates.map((c: { role: string; daysLeft: number }) => [c.role, c.daysLeft]);
    expect(roles.map(([r]: [string]) => r)).toEqual(["root", "issuing"]);
    for (const [role, days] of roles)
      expect(warn.st.problems).toContainEqual(
        expect.stringMatching(new RegExp(`^${role} CA certificate .* expires in ${days} days \\(`)),
      );
    const warnText = await plantroot(["status", "--config", config, "--warn-days", "100000"]);
    expect(warnText.code).toBe(1);
    expect(warnText.stdout).toMatch(/^PROBLEM: issuing CA certificate .* expires in \d+ days/m);

    // a CA that last published a CRL 30 minutes ago, valid for 5 minutes, and was stopped since
    // (its certificates are backdated by an hour, so it can run on a clock half an hour slow)
    const stale = await stoppedCa(
      { crl: { lifetimeSeconds: 300, refreshSeconds: 60 } },
      { now: () => new Date(Date.now() - 30 * MINUTE) },
    );
    const overdue = await status(stale.config);
    expect(overdue.code).toBe(1);
    const old = overdue.st.ca.lastCrl;
    expect(Date.parse(old.nextUpdate)).toBeLessThan(Date.now());
    expect(overdue.st.problems).toEqual([`last CRL (number ${old.number}) is past its nextUpdate ${old.nextUpdate}`]);
  }, 120_000);
});
