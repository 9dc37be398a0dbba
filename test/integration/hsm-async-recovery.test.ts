// The PKCS#11 layer recovering from device errors while asynchronous (threadpool) signatures are in
// flight: re-opening sessions or C_Finalize underneath a running C_Sign crashed the process (segfault or
// "free(): invalid pointer") before the layer waited for those calls. Runs in a child process so a crash
// shows as a signal instead of killing the test runner.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const CHILD = new URL("../helpers/hsm-async-churn-child.ts", import.meta.url).pathname;

function run(
  cycles: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", CHILD, mkdtempSync(join(tmpdir(), "hsm-churn-")), String(cycles)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((r) => child.on("close", (code, signal) => r({ code, signal, out, err })));
}

describe("recovery with asynchronous signatures in flight", () => {
  it("token directory removed and restored 40 times under 16 RSA lanes and ECDSA lanes: no crash, typed errors, signing resumes", async () => {
    {
      const r = await run(40);
      expect({ code: r.code, signal: r.signal }, r.err.slice(-500)).toEqual({ code: 0, signal: null });
      const o = JSON.parse(r.out) as {
        ok: number;
        bad: number;
        typed: number;
        untyped: string[];
        ecOk: number;
        ecTyped: number;
        resumed: number;
      };
      expect(o.untyped).toEqual([]);
      expect(o.bad).toBe(0); // every signature that was returned verifies
      expect(o.typed + o.ecTyped).toBeGreaterThan(0); // the outages were seen, as HsmErrors
      expect(o.ok).toBeGreaterThan(0);
      expect(o.ecOk).toBeGreaterThan(0);
      expect(o.resumed).toBeGreaterThan(0); // and signing works again after the last restore
    }
  });
});
