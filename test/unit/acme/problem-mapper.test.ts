// appliance/acme/problem-mapper.ts: ApplianceError kinds map to RFC 8555 problems; unknown errors
// become serverInternal with generic text and are flagged for logging.
import { describe, expect, it } from "vitest";
import { toProblem } from "../../../appliance/acme/problem-mapper.js";
import { problems } from "../../../appliance/acme/problems.js";
import { ApplianceError, type ApplianceErrorKind } from "../../../appliance/errors.js";

describe("toProblem", () => {
  it("passes AcmeProblems through", () => {
    const p = problems.badNonce("x");
    expect(toProblem(p)).toEqual({ problem: p, internal: false });
  });

  it("maps each ApplianceError kind", () => {
    const cases: Array<[ApplianceErrorKind, string, number]> = [
      ["malformed", "malformed", 400],
      ["notFound", "malformed", 404],
      ["unauthorized", "unauthorized", 403],
      ["conflict", "malformed", 409],
      ["rateLimited", "rateLimited", 429],
      ["badCSR", "badCSR", 400],
      ["badKey", "badCSR", 400],
      ["policyViolation", "rejectedIdentifier", 400],
      ["rejectedIdentifier", "rejectedIdentifier", 400],
      ["badRevocationReason", "badRevocationReason", 400],
      ["alreadyRevoked", "alreadyRevoked", 400],
      ["unavailable", "serverInternal", 503],
      ["internal", "serverInternal", 500],
    ];
    for (const [kind, type, status] of cases) {
      const { problem } = toProblem(new ApplianceError(kind, `m-${kind}`));
      expect([kind, problem.type, problem.status]).toEqual([kind, type, status]);
    }
  });

  it("never exposes internal messages", () => {
    const internal = toProblem(new ApplianceError("internal", "SQLITE_CORRUPT at /var/lib/plantroot/db"));
    expect(internal.internal).toBe(true);
    expect(internal.problem.detail).not.toMatch(/SQLITE|var/);
    const unknown = toProblem(new TypeError("cannot read x of undefined"));
    expect(unknown.internal).toBe(true);
    expect(unknown.problem.type).toBe("serverInternal");
    expect(JSON.stringify(unknown.problem.toJSON())).not.toMatch(/undefined|TypeError/);
    const unavailable = toProblem(new ApplianceError("unavailable", "CKR_DEVICE_ERROR", { retryAfter: 9 }));
    expect(unavailable.problem.retryAfter).toBe(9);
    expect(unavailable.problem.detail).not.toMatch(/CKR/);
  });
});
