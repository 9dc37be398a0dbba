// Test helper: one throw-away SoftHSM directory per test file (each file is its own process),
// removed when the file ends (test/setup-cleanup.ts) by the process that created it.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SoftHsm, useSoftHsm } from "../../hsm/index.js";
import { removeWhenFileEnds } from "./temp-dirs.js";

let current: SoftHsm | undefined;

export function testSoftHsm(): SoftHsm {
  if (!current) {
    current = useSoftHsm();
    removeWhenFileEnds(current.dir);
  }
  return current;
}

/** Runs openssl with arguments, returning stdout; throws with stderr on failure. */
export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] }).toString();
}

export function writeTemp(dir: string, name: string, data: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
