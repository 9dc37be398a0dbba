// `plantroot eab create|list|revoke` (cli/commands/eab.ts) as separate processes on a real sqlite
// store: list shows state without ever printing the HMAC key, revoke marks a credential revoked (and
// is audited), and revoking an unknown or already revoked key ID fails with a message saying which.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { plantroot } from "../helpers/plantroot-cli.js";

const dir = mkdtempSync(join(tmpdir(), "ops-eab-"));
const dataDir = join(dir, "data");
mkdirSync(dataDir);
const config = join(dir, "config.json");
writeFileSync(
  config,
  JSON.stringify({
    dataDir,
    hsm: { token: "plantroot", pin: { file: join(dir, "hsm-pin") } },
  }),
);
chmodSync(config, 0o640);

async function create(...args: string[]): Promise<{ kid: string; hmac: string }> {
  const r = await plantroot(["eab", "create", "--config", config, ...args]);
  expect(r.code, r.stderr).toBe(0);
  const kid = /^kid: (eab-\S+)$/m.exec(r.stdout)?.[1];
  const hmac = /^hmac key: (\S+)$/m.exec(r.stdout)?.[1];
  expect(kid).toBeDefined();
  expect(hmac).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes, base64url
  return { kid: kid!, hmac: hmac! };
}

/** `eab list` as rows: kid → [state, accounts, label, identifiers] (and its output, as printed) */
async function list(): Promise<Map<string, string[]> & { stdout?: string }> {
  const r = await plantroot(["eab", "list", "--config", config]);
  expect(r.code, r.stderr).toBe(0);
  const rows: Map<string, string[]> & { stdout?: string } = new Map(
    r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [kid, ...rest] = l.split("\t");
        return [kid!, rest];
      }),
  );
  rows.stdout = r.stdout;
  return rows;
}

describe("plantroot eab", () => {
  it("lists, lists as JSON without the HMAC key, revokes; unknown and repeated revocations fail clearly", async () => {
    const line = await create("--label", "line 3 PLCs");
    const cell = await create(
      "--label",
      "cell 7",
      "--identifier",
      "*.cell7.plant.example",
      "--identifier",
      "10.20.7.0/24",
      "--reusable",
    );

    const before = await list();
    expect([...before.keys()].sort()).toEqual([line.kid, cell.kid].sort());
    expect(before.get(line.kid)).toEqual(["active", "accounts=0/1", '"line 3 PLCs"']);
    expect(before.get(cell.kid)).toEqual(["active", "accounts=0", '"cell 7"', "*.cell7.plant.example,10.20.7.0/24"]);

    const json = await plantroot(["eab", "list", "--data-dir", dataDir, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const creds = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(creds.map((c) => c.kid).sort()).toEqual([line.kid, cell.kid].sort());
    for (const c of creds) {
      expect(Object.keys(c)).not.toContain("hmacKey");
      expect(c.revokedAt).toBeUndefined();
      expect(Date.parse(c.createdAt as string)).toBeLessThanOrEqual(Date.now());
    }
    expect(creds.find((c) => c.kid === cell.kid)).toMatchObject({
      label: "cell 7",
      identifiers: ["*.cell7.plant.example", "10.20.7.0/24"],
      reusable: true,
      boundAccounts: 0,
    });
    // the key is in neither listing, in no encoding
    for (const out of [json.stdout, before.stdout!])
      for (const secret of [line.hmac, cell.hmac, Buffer.from(line.hmac, "base64url").toString("hex")])
        expect(out).not.toContain(secret);

    const revoked = await plantroot(["eab", "revoke", line.kid, "--config", config]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${line.kid}`);
    const after = await list();
    expect(after.get(line.kid)?.[0]).toBe("revoked");
    expect(after.get(cell.kid)?.[0]).toBe("active");
    const afterJson = JSON.parse((await plantroot(["eab", "list", "--config", config, "--json"])).stdout) as Array<
      Record<string, unknown>
    >;
    expect(Date.parse(afterJson.find((c) => c.kid === line.kid)!.revokedAt as string)).toBeLessThanOrEqual(Date.now());

    const again = await plantroot(["eab", "revoke", line.kid, "--config", config]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`plantroot: EAB credential ${line.kid} is already revoked`);
    const unknown = await plantroot(["eab", "revoke", "eab-doesnotexist", "--config", config]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(
      "plantroot: no EAB credential with key ID eab-doesnotexist (plantroot eab list shows them)",
    );
    expect(unknown.stdout).toBe("");
    const missing = await plantroot(["eab", "revoke", "--config", config]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/the key ID to revoke is required/);

    // creations and the one revocation went into the audit chain, which still verifies
    const db = await Db.openReadOnly(join(dataDir, "plantroot.db"), { migrations: MIGRATIONS });
    const entries = await db.all<{ type: string; subject: string }>(
      "SELECT type, subject FROM audit_log WHERE type LIKE 'eab.%' ORDER BY seq",
    );
    await db.close();
    expect(entries).toEqual([
      { type: "eab.created", subject: `eab:${line.kid}` },
      { type: "eab.created", subject: `eab:${cell.kid}` },
      { type: "eab.revoked", subject: `eab:${line.kid}` },
    ]);
    const verify = await plantroot(["audit", "verify", "--db", join(dataDir, "plantroot.db")]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);
});
