// Typed errors of the PKCS#11 layer: every failure carries the CKR name (or a layer-level kind)
// and a message that never contains a PIN.

/** Return codes after which the layer re-opens the module/session/login on the next call. */
export const RECOVERABLE_CKR = new Set([
  "CKR_DEVICE_ERROR",
  "CKR_DEVICE_REMOVED",
  "CKR_TOKEN_NOT_PRESENT",
  "CKR_TOKEN_NOT_RECOGNIZED",
  "CKR_SESSION_HANDLE_INVALID",
  "CKR_SESSION_CLOSED",
  "CKR_CRYPTOKI_NOT_INITIALIZED",
  "CKR_USER_NOT_LOGGED_IN",
  "CKR_KEY_HANDLE_INVALID",
  "CKR_OBJECT_HANDLE_INVALID",
  "CKR_GENERAL_ERROR",
]);

export type HsmErrorKind =
  | "pkcs11" // the token returned a CKR_* code (see `ckr`)
  | "token-not-found"
  | "key-not-found"
  | "key-exists"
  | "unsupported"
  | "bad-pin-source"
  | "bad-uri"
  | "bad-input"
  | "login-required"; // the token lost its login and has no PIN to log in again (opened with keepPin: false)

export class HsmError extends Error {
  override readonly name = "HsmError";
  constructor(
    readonly kind: HsmErrorKind,
    message: string,
    /** PKCS#11 return code name, e.g. `CKR_PIN_INCORRECT`; `undefined` for layer-level errors. */
    readonly ckr?: string,
    /** The operation that failed, e.g. `C_Login`. */
    readonly op?: string,
  ) {
    super(message);
  }

  get recoverable(): boolean {
    return this.ckr !== undefined && RECOVERABLE_CKR.has(this.ckr);
  }
}

const CKR_RE = /\b(CKR_[A-Z0-9_]+)\b/;

/** The CKR name of a pkcs11js/graphene error, if it has one. */
export function ckrOf(err: unknown): string | undefined {
  if (err instanceof HsmError) return err.ckr;
  const msg = err instanceof Error ? err.message : String(err);
  return CKR_RE.exec(msg)?.[1];
}

/**
 * Wraps any error thrown by pkcs11js/graphene into an HsmError. The message is rebuilt from the CKR
 * name and the operation only, so nothing the native layer echoed (which could include arguments) leaks.
 */
export function toHsmError(err: unknown, op: string, secrets: readonly string[] = []): HsmError {
  if (err instanceof HsmError) return err;
  const ckr = ckrOf(err);
  if (ckr) return new HsmError("pkcs11", `${op} failed: ${ckr}`, ckr, op);
  let msg = err instanceof Error ? err.message : String(err);
  for (const s of secrets) if (s) msg = msg.split(s).join("***");
  return new HsmError("pkcs11", `${op} failed: ${msg}`, undefined, op);
}
