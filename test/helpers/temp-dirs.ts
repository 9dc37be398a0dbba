// Test helper: temp directories a vitest test file's process created, removed when that file ends
// (afterAll from test/setup-cleanup.ts); only the creating process removes them.
import { rmSync } from "node:fs";

const owner = process.pid;
const dirs = new Set<string>();

/** Removes `dir` when this test file ends (not from child processes that share it). */
export function removeWhenFileEnds(dir: string): string {
  dirs.add(dir);
  return dir;
}

/** Removes every registered directory now (idempotent); a no-op in any process but the creator. */
export function removeRegisteredDirs(): void {
  if (process.pid !== owner) return;
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort: a leftover temp dir must not fail a test run
    }
    dirs.delete(d);
  }
}

// Deliberately no process 'exit' hook: helper processes a test spawns (test/fixtures/load-writer.ts
// builds a CA fixture) exit while the test still uses their directories; vitest workers never reach
// 'exit' hooks anyway. Outside vitest nothing is removed here.
