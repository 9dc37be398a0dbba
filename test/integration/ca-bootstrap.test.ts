// The demo fixture as `plantroot demo` will use it: a second run on the same directories reuses the
// token, keys, certificates and database (same root, CA starts again, issuance continues).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bootstrapDemoPki, openDemoToken } from "../../appliance/ca/bootstrap.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { TEST_NAMES } from "../helpers/ca-fixture.js";
import { csrFor } from "../helpers/csr.js";

describe("demo bootstrap", () => {
  it("creates on the first run and reuses everything on the second", async () => {
    const dir = mkdtempSync(join(tmpdir(), "demo-"));
    const run = async () => {
      const token = openDemoToken(join(dir, "hsm"));
      const boot = await bootstrapDemoPki({
        dir: join(dir, "pki"),
        token,
        pkiBaseUrl: "http://127.0.0.1:8080",
        names: TEST_NAMES,
      });
      const db = await Db.open(join(dir, "plantroot.db"), { migrations: MIGRATIONS });
      const ca = await createCa({ config: boot.config, token, db });
      const ids = [{ type: "dns" as const, value: "localhost" }];
      const cert = await ca.issue({ csr: csrFor(ids), identifiers: ids, requester: {} });
      await ca.close();
      await db.close();
      token.close();
      return { boot, cert };
    };
    const a = await run();
    const b = await run();
    expect(a.boot.created).toBe(true);
    expect(b.boot.created).toBe(false);
    expect(b.boot.rootDer.equals(a.boot.rootDer)).toBe(true);
    expect(b.boot.issuingDer.equals(a.boot.issuingDer)).toBe(true);
    expect(b.cert.serial).not.toBe(a.cert.serial);
  });
});
