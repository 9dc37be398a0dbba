// What people sign during a ceremony besides approvals and cosignatures: attendance (a participant
// proves presence with their token) and a witness's exception for a failed or refused step. Pure.
import { z } from "zod";
import { STEP_ID } from "./approvals.js";
import { canonicalBytes, HEX64 } from "./jcs.js";
import { B64, verifySha256 } from "./keys.js";
import { PERSON_ID, type Registry } from "./registry.js";
import { ROLES, type Role } from "./roles.js";

export const ATTENDANCE_TYPE = "plantroot/ceremony-attendance/v1";
export const EXCEPTION_TYPE = "plantroot/ceremony-exception/v1";

const hex64 = z.string().regex(HEX64);
const isoTime = z.iso.datetime({ offset: false });
const signature = z.string().regex(B64).min(8).max(512);

/**
 * "I am present at this ceremony in this role": RFC 8785 canonical JSON, signed (ECDSA P-256 /
 * SHA-256, DER, base64) by the approval key the registry enrolled for the person.
 */
export const AttendanceStatementSchema = z.strictObject({
  type: z.literal(ATTENDANCE_TYPE),
  ceremonyId: z.string().min(1).max(64),
  scriptHash: hex64,
  person: z.string().regex(PERSON_ID),
  role: z.enum(ROLES),
  time: isoTime,
});
export type AttendanceStatement = z.infer<typeof AttendanceStatementSchema>;

export const SignedAttendanceSchema = z.strictObject({ statement: AttendanceStatementSchema, signature });
export type SignedAttendance = z.infer<typeof SignedAttendanceSchema>;

/**
 * A witness's record of a deviation: which step failed or was refused, how, and what was decided;
 * signed by the witness's approval key over its canonical JSON.
 */
export const ExceptionStatementSchema = z.strictObject({
  type: z.literal(EXCEPTION_TYPE),
  ceremonyId: z.string().min(1).max(64),
  scriptHash: hex64,
  stepId: z.string().regex(STEP_ID),
  failure: z.strictObject({ kind: z.string().min(1).max(64), message: z.string().max(4000) }),
  note: z.string().min(1).max(4000),
  witness: z.string().regex(PERSON_ID),
  time: isoTime,
});
export type ExceptionStatement = z.infer<typeof ExceptionStatementSchema>;

export interface CeremonyRef {
  ceremonyId: string;
  scriptHash: string;
}

export function attendanceStatement(c: CeremonyRef, person: string, role: Role, time: Date): AttendanceStatement {
  return AttendanceStatementSchema.parse({
    type: ATTENDANCE_TYPE,
    ceremonyId: c.ceremonyId,
    scriptHash: c.scriptHash,
    person,
    role,
    time: time.toISOString(),
  });
}

export function exceptionStatement(
  c: CeremonyRef,
  stepId: string,
  failure: { kind: string; message: string },
  note: string,
  witness: string,
  time: Date,
): ExceptionStatement {
  return ExceptionStatementSchema.parse({
    type: EXCEPTION_TYPE,
    ceremonyId: c.ceremonyId,
    scriptHash: c.scriptHash,
    stepId,
    failure: { kind: failure.kind, message: failure.message },
    note,
    witness,
    time: time.toISOString(),
  });
}

/** Whether `signatureB64` is `person`'s enrolled approval key's signature over the statement. */
export function signedByParticipant(
  registry: Registry,
  person: string,
  statement: AttendanceStatement | ExceptionStatement,
  signatureB64: string,
): boolean {
  const p = registry.get(person);
  return !!p && verifySha256(p.approvalKey, canonicalBytes(statement), signatureB64);
}
