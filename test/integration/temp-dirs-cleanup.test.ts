// The per-file SoftHSM directory is removed when the test file ends, by the process that created it
// only: a child process sharing the directory and exiting first leaves it in place.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "cleanup-check-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("a test file's SoftHSM dir survives its child processes and is gone after the file ends", async () => {
  const repo = resolve(".");
  const tmp = join(work, "tmp");
  const out = join(work, "seen.json");
  const config = join(work, "vitest.config.mjs");
  mkdirSync(tmp);
  writeFileSync(
    config,
    `export default { test: { include: ["test/fixtures/softhsm-cleanup.fixture.ts"], pool: "forks", isolate: true,
      testTimeout: 60000, setupFiles: ["test/setup-reflect.ts", "test/setup-cleanup.ts"] } };\n`,
  );
  const r = await new Promise<{ code: number; text: string }>((res) =>
    execFile(
      "node",
      [join(repo, "node_modules/vitest/vitest.mjs"), "run", "--root", repo, "--config", config],
      { cwd: repo, env: { ...process.env, TMPDIR: tmp, CLEANUP_OUT: out } },
      (err, stdout, stderr) => res({ code: err ? 1 : 0, text: stdout + stderr }),
    ),
  );
  expect(r.code, r.text).toBe(0);
  const seen = JSON.parse(readFileSync(out, "utf8")) as { dir: string; afterChild: boolean; inAfterAll: boolean };
  expect(seen.dir.startsWith(join(tmp, "plantroot-softhsm-"))).toBe(true);
  expect(seen.afterChild).toBe(true);
  expect(seen.inAfterAll).toBe(true);
  expect(readdirSync(tmp).filter((n) => n.startsWith("plantroot-softhsm-"))).toEqual([]);
});
