// Console errors and the one place every failure becomes an ErrorView for the renderer: typed
// errors keep their kind and safe message; anything untyped is logged here and shown as "internal".
import { ZodError } from "zod";
import { isApplianceError } from "../../appliance/errors.js";
import { isCeremonyError } from "../../ceremonies/index.js";
import { HsmError } from "../../hsm/index.js";
import type { ErrorView } from "../common/views.js";

export type ConsoleErrorKind =
  | "bad-arguments" // a command's arguments failed its schema
  | "forbidden" // IPC from an unexpected frame, a request without the host token
  | "wrong-pin" // the token refused the PIN (nothing was signed)
  | "token-not-found" // no token with that label is present
  | "token-mismatch" // the token does not hold this person's enrolled approval key
  | "not-present" // the person has not checked in at this console
  | "not-allowed" // the person may not do this (role, script capacity)
  | "no-ceremony" // no ceremony is open
  | "not-found" // a script package, bundle, certificate or request does not exist
  | "unavailable" // the console was started without what this needs (appliance store, dialog)
  | "dry-run-failed" // the dry run's own process (plantroot ceremony dry-run) failed; its message says why
  | "io"; // the file system refused

export class ConsoleError extends Error {
  override readonly name = "ConsoleError";
  constructor(
    readonly kind: ConsoleErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Maps any thrown value to what the renderer shows. Never includes a PIN or a stack. */
export function toErrorView(e: unknown, log: (msg: string) => void = (m) => console.error(m)): ErrorView {
  if (e instanceof ConsoleError) return { kind: e.kind, message: e.message };
  if (isCeremonyError(e)) return { kind: e.kind, message: e.message };
  if (e instanceof HsmError) {
    if (e.ckr === "CKR_PIN_INCORRECT") return { kind: "wrong-pin", message: e.message };
    if (e.ckr === "CKR_PIN_LOCKED") return { kind: "wrong-pin", message: `${e.message}: the token is locked` };
    return { kind: e.kind === "token-not-found" ? "token-not-found" : "hsm", message: e.message };
  }
  if (isApplianceError(e)) return { kind: e.kind, message: e.message };
  if (e instanceof ZodError) {
    const i = e.issues[0];
    const where = i?.path.length ? `${i.path.join(".")}: ` : "";
    return { kind: "bad-arguments", message: `${where}${i?.message ?? "invalid arguments"}` };
  }
  log(`plantroot console: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return { kind: "internal", message: "internal error in the console (details are in the console's log)" };
}
