// appliance/acme/problems.ts: the one table covers every registered ACME error type with the right
// URN and status, and the generated constructors build matching problem documents.
import { describe, expect, it } from "vitest";
import { AcmeProblem, PROBLEM_NS, PROBLEM_TYPES, problems, problemTypeOf } from "../../../appliance/acme/problems.js";

// RFC 8555 §6.7 table (all 24 types), then RFC 9773 §7.4 and draft-ietf-acme-profiles
const RFC_8555 = [
  "accountDoesNotExist",
  "alreadyRevoked",
  "badCSR",
  "badNonce",
  "badPublicKey",
  "badRevocationReason",
  "badSignatureAlgorithm",
  "caa",
  "compound",
  "connection",
  "dns",
  "externalAccountRequired",
  "incorrectResponse",
  "invalidContact",
  "malformed",
  "orderNotReady",
  "rateLimited",
  "rejectedIdentifier",
  "serverInternal",
  "tls",
  "unauthorized",
  "unsupportedContact",
  "unsupportedIdentifier",
  "userActionRequired",
];
const EXTENSIONS = ["alreadyReplaced", "invalidProfile"];

describe("problem table", () => {
  it("has exactly the RFC 8555 types plus the ARI and profiles extensions", () => {
    expect(Object.keys(PROBLEM_TYPES).sort()).toEqual([...RFC_8555, ...EXTENSIONS].sort());
  });

  it("each constructor yields its own URN, the table status and the default detail", () => {
    for (const t of [...RFC_8555, ...EXTENSIONS] as (keyof typeof PROBLEM_TYPES)[]) {
      const p = problems[t]();
      expect(p).toBeInstanceOf(AcmeProblem);
      expect(p.toJSON().type).toBe(`urn:ietf:params:acme:error:${t}`);
      expect(p.status).toBe(PROBLEM_TYPES[t].status);
      expect(p.detail).toBe(PROBLEM_TYPES[t].defaultDetail);
      expect(problemTypeOf(p.urn)).toBe(t);
    }
  });

  it("uses the statuses the RFCs ask for where they name one", () => {
    expect(problems.rateLimited().status).toBe(429);
    expect(problems.orderNotReady().status).toBe(403); // RFC 8555 §7.4
    expect(problems.serverInternal().status).toBe(500);
    expect(problems.unauthorized().status).toBe(403);
    expect(problems.badNonce().status).toBe(400);
  });

  it("carries subproblems with identifiers, Retry-After, algorithms and status overrides", () => {
    const p = problems.rejectedIdentifier("2 refused", {
      subproblems: [
        { type: "rejectedIdentifier", detail: "outside policy", identifier: { type: "dns", value: "evil.example" } },
        { type: "unsupportedIdentifier", identifier: { type: "ip", value: "10.0.0.1" } },
      ],
      retryAfter: 7,
      status: 403,
    });
    const doc = p.toJSON();
    expect(doc.status).toBe(403);
    expect(p.retryAfter).toBe(7);
    expect(doc.subproblems).toEqual([
      {
        type: `${PROBLEM_NS}rejectedIdentifier`,
        detail: "outside policy",
        identifier: { type: "dns", value: "evil.example" },
      },
      {
        type: `${PROBLEM_NS}unsupportedIdentifier`,
        detail: PROBLEM_TYPES.unsupportedIdentifier.defaultDetail,
        identifier: { type: "ip", value: "10.0.0.1" },
      },
    ]);
    expect(problems.badSignatureAlgorithm(undefined, { algorithms: ["ES256"] }).toJSON().algorithms).toEqual(["ES256"]);
  });

  it("does not recognise foreign URNs", () => {
    expect(problemTypeOf("urn:ietf:params:acme:error:toString")).toBeUndefined();
    expect(problemTypeOf("about:blank")).toBeUndefined();
  });
});
