// SoftHSM2 fixture: a throw-away (or demo) token directory with its own SOFTHSM2_CONF, so tests,
// the demo and benchmarks never touch the system token store. Replaces the missing softhsm-test-utils.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { initializeToken } from "./admin.js";
import { HsmError } from "./errors.js";
import { DEFAULT_LIBRARY } from "./module.js";

export const SOFTHSM_LIBRARY = DEFAULT_LIBRARY;

export interface SoftHsm {
  dir: string;
  conf: string;
  library: string;
  /** initialises a token in this directory (in-process, through PKCS#11) */
  createToken(label: string, pin: string, soPin?: string): void;
  /** removes the directory (only for throw-away fixtures) */
  cleanup(): void;
}

let activeConf: string | undefined;

/**
 * Points this process's SoftHSM at `dir` (created if missing; a fresh temp dir if omitted).
 * SoftHSM reads SOFTHSM2_CONF once, at C_Initialize: call this before opening any token.
 */
export function useSoftHsm(dir?: string): SoftHsm {
  const root = dir ? resolve(dir) : mkdtempSync(join(tmpdir(), "plantroot-softhsm-"));
  const tokens = join(root, "tokens");
  mkdirSync(tokens, { recursive: true });
  const conf = join(root, "softhsm2.conf");
  if (!existsSync(conf)) {
    writeFileSync(
      conf,
      `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
      {
        mode: 0o600,
      },
    );
  }
  if (activeConf && activeConf !== conf)
    throw new HsmError("bad-input", `this process already uses SoftHSM config ${activeConf}; one per process`);
  activeConf = conf;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir: root,
    conf,
    library: SOFTHSM_LIBRARY,
    createToken(label: string, pin: string, soPin = `${pin}-so`) {
      initializeToken({ library: SOFTHSM_LIBRARY, label, soPin, userPin: pin });
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
