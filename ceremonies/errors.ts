// The error type of ceremonies/: every refusal (bad script, failed check, missing quorum, HSM
// refusal) is a CeremonyError with a kind, so the console and CLI map them in one place.

export type CeremonyErrorKind =
  | "bad-script" // schema, hash or signature of the script
  | "bad-registry" // participant registry invalid or a separation rule broken
  | "bad-expression" // quorum expression does not parse or cannot be satisfied
  | "bad-approval" // an approval statement is malformed
  | "quorum-not-met" // approvals do not satisfy the step's requirement
  | "tbs-mismatch" // the rebuilt to-be-signed bytes differ from what the quorum approved
  | "check-failed" // a pre- or post-signing check refused
  | "wrong-state" // the session is not in a state that allows the call
  | "secret-sharing" // PIN/KEK shares missing, wrong or inconsistent
  | "bad-bundle" // an evidence bundle is malformed
  | "hsm"; // the token refused (message carries the CKR name)

export class CeremonyError extends Error {
  override readonly name = "CeremonyError";
  constructor(
    readonly kind: CeremonyErrorKind,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
  }
}

export function isCeremonyError(e: unknown, kind?: CeremonyErrorKind): e is CeremonyError {
  return e instanceof CeremonyError && (kind === undefined || e.kind === kind);
}
