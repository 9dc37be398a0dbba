// Test helper: a started CA on a throw-away SoftHSM token and sqlite file, built with the demo
// bootstrap (root + name-constrained SubCA + audit key), for CA integration tests.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BootstrapResult, bootstrapDemoPki } from "../../appliance/ca/bootstrap.js";
import type { Ca } from "../../appliance/ca/ca.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { HsmToken } from "../../hsm/index.js";
import { testSoftHsm } from "./softhsm.js";
import { removeWhenFileEnds } from "./temp-dirs.js";

export const TEST_NAMES = {
  permittedDns: ["plant.example", "localhost"],
  excludedDns: ["bad.plant.example"],
  permittedIp: ["10.20.0.0/16", "127.0.0.0/8", "::1/128"],
  excludedIp: ["10.20.99.0/24"],
};

export interface CaFixture {
  ca: Ca;
  db: Db;
  token: HsmToken;
  dir: string;
  dbPath: string;
  boot: BootstrapResult;
  close(): Promise<void>;
}

let tokens = 0;

export async function caFixture(
  overrides: Record<string, unknown> = {},
  opts: { now?: () => Date; onError?: (e: unknown) => void } = {},
): Promise<CaFixture> {
  const sh = testSoftHsm();
  const label = `ca-${++tokens}`;
  sh.createToken(label, "1234");
  const token = HsmToken.open({ label, pin: { value: "1234" } });
  const dir = removeWhenFileEnds(mkdtempSync(join(tmpdir(), "ca-fixture-")));
  const boot = await bootstrapDemoPki({ dir, token, pkiBaseUrl: "http://127.0.0.1:8080", names: TEST_NAMES });
  const dbPath = join(dir, "plantroot.db");
  const db = await Db.open(dbPath, { migrations: MIGRATIONS });
  const ca = await createCa({ config: { ...boot.config, ...overrides }, token, db, ...opts });
  return {
    ca,
    db,
    token,
    dir,
    dbPath,
    boot,
    async close() {
      await ca.close();
      await db.close();
      token.close();
    },
  };
}
