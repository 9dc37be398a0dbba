// Is the configured HSM reachable: the PKCS#11 library loads, a token with the configured label is
// present and initialised, and its user PIN is not locked. Needs no PIN (no login).
import { existsSync } from "node:fs";
import { Pkcs11Module } from "../../hsm/index.js";

// CK_TOKEN_INFO flags (PKCS#11 v2.40 section 3.2)
const CKF_USER_PIN_INITIALIZED = 0x8;
const CKF_TOKEN_INITIALIZED = 0x400;
const CKF_USER_PIN_COUNT_LOW = 0x10000;
const CKF_USER_PIN_FINAL_TRY = 0x20000;
const CKF_USER_PIN_LOCKED = 0x40000;

export interface HsmProbe {
  reachable: boolean;
  library: string;
  token: string;
  /** set when reachable */
  manufacturer?: string;
  model?: string;
  serial?: string;
  /** what is wrong, in words for plant IT; empty when healthy */
  problems: string[];
  warnings: string[];
}

export function probeHsm(library: string, label: string): HsmProbe {
  const r: HsmProbe = { reachable: false, library, token: label, problems: [], warnings: [] };
  if (!existsSync(library)) {
    r.problems.push(`PKCS#11 library ${library} does not exist`);
    return r;
  }
  let slots: ReturnType<Pkcs11Module["slotsWithToken"]>;
  try {
    slots = Pkcs11Module.get(library).slotsWithToken();
  } catch (e) {
    r.problems.push(`PKCS#11 library ${library}: ${(e as Error).message}`);
    return r;
  }
  for (const slot of slots) {
    const t = slot.getToken();
    if (t.label.trim() !== label) continue;
    r.manufacturer = t.manufacturerID.trim();
    r.model = t.model.trim();
    r.serial = t.serialNumber.trim();
    if ((t.flags & CKF_TOKEN_INITIALIZED) === 0) r.problems.push(`token "${label}" is not initialised`);
    else if ((t.flags & CKF_USER_PIN_INITIALIZED) === 0) r.problems.push(`token "${label}" has no user PIN yet`);
    if (t.flags & CKF_USER_PIN_LOCKED) r.problems.push(`token "${label}": user PIN is locked`);
    else if (t.flags & CKF_USER_PIN_FINAL_TRY) r.warnings.push(`token "${label}": one PIN attempt left`);
    else if (t.flags & CKF_USER_PIN_COUNT_LOW) r.warnings.push(`token "${label}": wrong PIN entered recently`);
    r.reachable = r.problems.length === 0;
    return r;
  }
  r.problems.push(`no token labelled "${label}" in ${library} (${slots.length} token(s) present)`);
  return r;
}
