// The argument schema of every command (zod, strict: unknown keys refused). The main process parses
// every IPC message and every loopback-host request with these; the preload checks them first too.
import { z } from "zod";
import type { Args, Command } from "./channels.js";
import { ROLES } from "./views.js";

const empty = z.strictObject({});
const personId = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "participant ids are lower-case letters, digits, '-'");
const stepId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/);
const packageId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "a script package is a directory name");
const role = z.enum(ROLES);
/** PINs never leave the main process; length only, so a typo is still reported by the token itself. */
const pin = z.string().min(1).max(128);
const tokenLabel = z.string().min(1).max(32);
const tokenPin = { tokenLabel, pin };
/** an absolute local path (a directory on removable media, a bundle, an input file) */
const localPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith("/") && !p.includes("\0"), "must be an absolute path");
const note = z.string().max(2000);
const requestId = z.string().regex(/^[a-z0-9-]{1,64}$/);

export const ARG_SCHEMAS = {
  getState: empty,
  listTokens: empty,
  enrollParticipant: z.strictObject({
    ...tokenPin,
    id: personId,
    name: z.string().trim().min(1).max(100),
    roles: z.array(role).min(1).max(ROLES.length),
    registryName: z.string().trim().min(1).max(100).optional(),
  }),
  checkIn: z.strictObject({ ...tokenPin, person: personId }),
  checkOut: z.strictObject({ person: personId }),
  listScripts: empty,
  dryRunScript: z.strictObject({ packageId }),
  signScript: z.strictObject({ ...tokenPin, packageId, person: personId }),
  startCeremony: z.strictObject({ packageId }),
  provideInput: z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
    person: personId,
    path: localPath,
  }),
  prepareStep: z.strictObject({ stepId }),
  approveStep: z.strictObject({ ...tokenPin, stepId, person: personId, role }),
  openShare: z.strictObject({ ...tokenPin, stepId, person: personId }),
  executeStep: z.strictObject({ stepId }),
  recordException: z.strictObject({ ...tokenPin, stepId, person: personId, note: note.trim().min(1) }),
  finishCeremony: z.strictObject({ note }),
  cosign: z.strictObject({ ...tokenPin, person: personId, role: z.enum(["witness", "auditor"]) }),
  sealCeremony: empty,
  dismissCeremony: empty,
  chooseDirectory: z.strictObject({ purpose: z.enum(["export", "verify", "input"]) }),
  exportBundle: z.strictObject({ destination: localPath }),
  verifyBundle: z.strictObject({
    path: localPath,
    registryHash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "a SHA-256 in lower-case hex")
      .optional(),
    logKeyId: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "a SHA-256 in lower-case hex")
      .optional(),
  }),
  getInventory: empty,
  requestRevocation: z.strictObject({
    serial: z.string().regex(/^[0-9a-f]{2,40}$/, "a serial is lower-case hex"),
    reason: z.string().regex(/^[a-zA-Z]{3,32}$/),
  }),
  approveRevocation: z.strictObject({ ...tokenPin, requestId, person: personId, role }),
  executeRevocation: z.strictObject({ requestId }),
  cancelRevocation: z.strictObject({ requestId }),
} satisfies { [C in Command]: z.ZodType<Args[C]> };

/** Parses untrusted arguments of `command`; throws a ZodError naming the field. */
export function parseArgs<C extends Command>(command: C, raw: unknown): Args[C] {
  return ARG_SCHEMAS[command].parse(raw) as Args[C];
}
