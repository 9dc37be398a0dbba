// Token administration: initialise a token in a free slot (SO PIN + user PIN), change a PIN.
// Used by the HSM-initialisation ceremony, the demo and the SoftHSM test fixture.
import { HsmError, ckrOf, toHsmError } from "./errors.js";
import { DEFAULT_LIBRARY, Pkcs11Module } from "./module.js";

export interface InitTokenOptions {
  library?: string;
  label: string;
  soPin: string;
  userPin: string;
}

const CKF_TOKEN_INITIALIZED = 0x400;

/** Initialises the first uninitialised token with `label`; refuses a label that is already in use. */
export function initializeToken(opts: InitTokenOptions): void {
  if (!opts.label || Buffer.byteLength(opts.label) > 32)
    throw new HsmError("bad-input", "token label must be 1..32 bytes");
  if (opts.userPin.length < 4 || opts.soPin.length < 4)
    throw new HsmError("bad-input", "PINs must be at least 4 characters");
  const m = Pkcs11Module.get(opts.library ?? DEFAULT_LIBRARY);
  const lib = m.module.lib;
  const slots = m.slotsWithToken();
  if (slots.some((s) => s.getToken().label.trim() === opts.label))
    throw new HsmError("key-exists", `a token labelled "${opts.label}" already exists`);
  const free = slots.find((s) => (s.getToken().flags & CKF_TOKEN_INITIALIZED) === 0);
  if (!free) throw new HsmError("token-not-found", "no uninitialised token slot is available");
  const secrets = [opts.soPin, opts.userPin];
  try {
    lib.C_InitToken(free.handle, opts.soPin, opts.label.padEnd(32, " "));
  } catch (e) {
    throw toHsmError(e, "C_InitToken", secrets);
  }
  // SoftHSM moves the fresh token to a new slot id: look it up again by label
  const slot = m.slotsWithToken().find((s) => s.getToken().label.trim() === opts.label);
  if (!slot) throw new HsmError("token-not-found", `token "${opts.label}" vanished after initialisation`);
  const session = lib.C_OpenSession(slot.handle, 2 | 4);
  try {
    lib.C_Login(session, 0 /* CKU_SO */, opts.soPin);
    lib.C_InitPIN(session, opts.userPin);
    lib.C_Logout(session);
  } catch (e) {
    throw toHsmError(e, "C_InitPIN", secrets);
  } finally {
    lib.C_CloseSession(session);
  }
}

/** Changes the user PIN of token `label`. */
export function changeUserPin(label: string, oldPin: string, newPin: string, library = DEFAULT_LIBRARY): void {
  const m = Pkcs11Module.get(library);
  const slot = m.slotsWithToken().find((s) => s.getToken().label.trim() === label);
  if (!slot) throw new HsmError("token-not-found", `no token with label "${label}"`);
  const lib = m.module.lib;
  const session = lib.C_OpenSession(slot.handle, 2 | 4);
  try {
    try {
      lib.C_Login(session, 1, oldPin);
    } catch (e) {
      if (ckrOf(e) !== "CKR_USER_ALREADY_LOGGED_IN") throw e;
    }
    lib.C_SetPIN(session, oldPin, newPin);
  } catch (e) {
    throw toHsmError(e, "C_SetPIN", [oldPin, newPin]);
  } finally {
    lib.C_CloseSession(session);
  }
}
