// Every ACME problem type (RFC 8555 §6.7, RFC 9773, the ACME profiles draft) in ONE table, and the
// AcmeProblem value built from it: constructors are generated from the table, never written by hand.
import type { Identifier } from "../ca/api.js";

export const PROBLEM_NS = "urn:ietf:params:acme:error:";

/** type name → HTTP status and the detail used when the caller gives none. */
export const PROBLEM_TYPES = {
  accountDoesNotExist: { status: 400, defaultDetail: "No account exists with the provided key" },
  alreadyRevoked: { status: 400, defaultDetail: "The certificate is already revoked" },
  badCSR: { status: 400, defaultDetail: "The CSR is unacceptable" },
  badNonce: { status: 400, defaultDetail: "The request carried an unacceptable anti-replay nonce" },
  badPublicKey: { status: 400, defaultDetail: "The JWS was signed by an unsupported public key" },
  badRevocationReason: { status: 400, defaultDetail: "The revocation reason is not allowed" },
  badSignatureAlgorithm: { status: 400, defaultDetail: "The JWS was signed with an unsupported algorithm" },
  caa: { status: 403, defaultDetail: "Certification Authority Authorization (CAA) forbids issuance" },
  compound: { status: 400, defaultDetail: "Several errors occurred; see subproblems" },
  connection: { status: 400, defaultDetail: "The server could not connect to the validation target" },
  dns: { status: 400, defaultDetail: "There was a problem with a DNS query during validation" },
  externalAccountRequired: { status: 400, defaultDetail: "This server requires external account binding" },
  incorrectResponse: { status: 403, defaultDetail: "The response received did not match the challenge" },
  invalidContact: { status: 400, defaultDetail: "A contact URL for the account was invalid" },
  malformed: { status: 400, defaultDetail: "The request message was malformed" },
  orderNotReady: { status: 403, defaultDetail: "The order is not ready to be finalized" },
  rateLimited: { status: 429, defaultDetail: "The request exceeds a rate limit" },
  rejectedIdentifier: { status: 400, defaultDetail: "The server will not issue certificates for the identifier" },
  serverInternal: { status: 500, defaultDetail: "The server experienced an internal error" },
  tls: { status: 400, defaultDetail: "The server received a TLS error during validation" },
  unauthorized: { status: 403, defaultDetail: "The client lacks sufficient authorization" },
  unsupportedContact: { status: 400, defaultDetail: "A contact URL for the account used an unsupported protocol" },
  unsupportedIdentifier: { status: 400, defaultDetail: "The identifier is of an unsupported type" },
  userActionRequired: { status: 403, defaultDetail: "Visit the instance URL and take the actions it describes" },
  // RFC 9773 (ARI): the certificate named in `replaces` was already replaced
  alreadyReplaced: { status: 409, defaultDetail: "The certificate has already been replaced by another order" },
  // draft-ietf-acme-profiles: the requested profile is not offered
  invalidProfile: { status: 400, defaultDetail: "The requested certificate profile is not offered" },
} as const satisfies Record<string, { status: number; defaultDetail: string }>;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface Subproblem {
  type: string;
  detail: string;
  identifier?: Identifier;
}

export interface ProblemDocument {
  type: string;
  detail: string;
  status: number;
  subproblems?: Subproblem[];
  /** badSignatureAlgorithm: the algorithms the server accepts (RFC 8555 §6.2) */
  algorithms?: string[];
}

export interface ProblemOptions {
  subproblems?: Array<{ type: ProblemType; detail?: string; identifier?: Identifier }>;
  /** seconds; sent as Retry-After (rateLimited, serverInternal when temporarily unavailable) */
  retryAfter?: number;
  /** overrides the table's status where RFC 8555 asks for another (e.g. 404, 409, 413, 415, 503) */
  status?: number;
  algorithms?: string[];
  /** extra response headers, e.g. Location for keyChange conflicts and onlyReturnExisting */
  headers?: Record<string, string>;
}

/** An RFC 8555 problem as an error value: thrown inside the ACME layer, rendered by the HTTP layer. */
export class AcmeProblem extends Error {
  override readonly name = "AcmeProblem";
  readonly status: number;
  readonly subproblems?: Subproblem[];
  readonly retryAfter?: number;
  readonly algorithms?: string[];
  readonly headers?: Record<string, string>;

  constructor(
    readonly type: ProblemType,
    readonly detail: string = PROBLEM_TYPES[type].defaultDetail,
    opts: ProblemOptions = {},
  ) {
    super(detail);
    this.status = opts.status ?? PROBLEM_TYPES[type].status;
    if (opts.subproblems?.length)
      this.subproblems = opts.subproblems.map((s) => ({
        type: PROBLEM_NS + s.type,
        detail: s.detail ?? PROBLEM_TYPES[s.type].defaultDetail,
        ...(s.identifier ? { identifier: s.identifier } : {}),
      }));
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
    if (opts.algorithms) this.algorithms = opts.algorithms;
    if (opts.headers) this.headers = opts.headers;
  }

  get urn(): string {
    return PROBLEM_NS + this.type;
  }

  toJSON(): ProblemDocument {
    return {
      type: this.urn,
      detail: this.detail,
      status: this.status,
      ...(this.subproblems ? { subproblems: this.subproblems } : {}),
      ...(this.algorithms ? { algorithms: this.algorithms } : {}),
    };
  }
}

export function isAcmeProblem(e: unknown, type?: ProblemType): e is AcmeProblem {
  return e instanceof AcmeProblem && (type === undefined || e.type === type);
}

type Constructors = { [K in ProblemType]: (detail?: string, opts?: ProblemOptions) => AcmeProblem };

/** One constructor per table entry: `problems.badNonce("…")`, `problems.rejectedIdentifier(d, {subproblems})`. */
export const problems: Constructors = Object.fromEntries(
  (Object.keys(PROBLEM_TYPES) as ProblemType[]).map((t) => [
    t,
    (detail?: string, opts?: ProblemOptions) => new AcmeProblem(t, detail, opts),
  ]),
) as Constructors;

/** The problem type named by a URN of this namespace, or undefined for anything else. */
export function problemTypeOf(urn: string): ProblemType | undefined {
  if (!urn.startsWith(PROBLEM_NS)) return undefined;
  const t = urn.slice(PROBLEM_NS.length);
  return Object.hasOwn(PROBLEM_TYPES, t) ? (t as ProblemType) : undefined;
}
