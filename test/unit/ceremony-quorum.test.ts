// Quorum expressions: the strict grammar, canonical printing, evaluation with one-person-one-count,
// static satisfiability, checked by examples and by fast-check properties.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isCeremonyError } from "../../ceremonies/errors.js";
import {
  alternatives,
  type CountedApproval,
  conjunctionFeasible,
  describeQuorum,
  eligibleApprovers,
  evaluateQuorum,
  type RoleAssignment,
  satisfiable,
} from "../../ceremonies/quorum/evaluate.js";
import { formatQuorum, parseQuorum, type QuorumExpr } from "../../ceremonies/quorum/grammar.js";
import { ROLES, type Role } from "../../ceremonies/roles.js";

const A: RoleAssignment = {
  admin: ["alice"],
  witness: ["bob"],
  officer: ["carol", "dave", "erin"],
  auditor: ["kim"],
  custodian: ["frank", "grace", "bob"],
};

const ap = (person: string, role: Role): CountedApproval => ({ person, role });

describe("grammar", () => {
  it("parses the issue's example into an AST", () => {
    expect(parseQuorum("all(admin, witness) and 2 of officers")).toEqual({
      op: "and",
      terms: [
        { op: "all", roles: ["admin", "witness"] },
        { op: "atLeast", k: 2, role: "officer" },
      ],
    });
  });

  it("parses or, parentheses and bare roles", () => {
    expect(parseQuorum("(admin and witness) or (3 of custodians)")).toEqual({
      op: "or",
      terms: [
        {
          op: "and",
          terms: [
            { op: "atLeast", k: 1, role: "admin" },
            { op: "atLeast", k: 1, role: "witness" },
          ],
        },
        { op: "atLeast", k: 3, role: "custodian" },
      ],
    });
    expect(parseQuorum("((auditor))")).toEqual({ op: "atLeast", k: 1, role: "auditor" });
  });

  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["admin and witness or auditor", /cannot be mixed/],
    ["2 officers", /expected "of"/],
    ["0 of officers", /count must be/],
    ["02 of officers", /leading zero/],
    ["100 of officers", /count must be/],
    ["all(admin, admin)", /listed twice/],
    ["all()", /expected a role/],
    ["all(admin", /closing all/],
    ["(admin", /expected "\)"/],
    ["admin)", /unexpected "\)"/],
    ["janitor", /unknown role "janitor"/],
    ["Admin", /unexpected character "A"/],
    ["admin && witness", /unexpected character "&"/],
    ["admin and", /ended/],
    ["and admin", /expected a requirement/],
    ["2 of and", /expected a role/],
    ["admin witness", /unexpected "witness"/],
    ["((((((((((admin))))))))))", /deeper/],
    [`${"admin and ".repeat(30)}admin`, /longer than/],
  ];
  for (const [src, re] of bad) {
    it(`rejects ${JSON.stringify(src).slice(0, 40)}`, () => {
      let err: unknown;
      try {
        parseQuorum(src);
      } catch (e) {
        err = e;
      }
      expect(isCeremonyError(err, "bad-expression")).toBe(true);
      expect((err as Error).message).toMatch(re);
    });
  }

  it("prints canonically", () => {
    expect(formatQuorum(parseQuorum("all( admin,witness )  and 2 of officer"))).toBe(
      "all(admin, witness) and 2 of officers",
    );
    expect(formatQuorum(parseQuorum("(admin or witness) and 1 of officers"))).toBe("(admin or witness) and officer");
  });
});

// ---- generators ----

const roleArb = fc.constantFrom(...ROLES);
const exprArb: fc.Arbitrary<QuorumExpr> = fc.letrec<{ e: QuorumExpr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.uniqueArray(roleArb, { minLength: 1, maxLength: 3 }).map((roles): QuorumExpr => ({ op: "all", roles })),
    fc
      .record({ k: fc.integer({ min: 1, max: 4 }), role: roleArb })
      .map(({ k, role }): QuorumExpr => ({ op: "atLeast", k, role })),
    fc.array(tie("e"), { minLength: 2, maxLength: 3 }).map((terms): QuorumExpr => ({ op: "and", terms })),
    fc.array(tie("e"), { minLength: 2, maxLength: 3 }).map((terms): QuorumExpr => ({ op: "or", terms })),
  ),
})).e;

function depth(e: QuorumExpr): number {
  return e.op === "and" || e.op === "or" ? 1 + Math.max(...e.terms.map(depth)) : 0;
}

const people = ["p1", "p2", "p3", "p4", "p5", "p6"];
const assignmentArb: fc.Arbitrary<RoleAssignment> = fc
  .record({
    admin: fc.subarray(people, { maxLength: 2 }),
    witness: fc.subarray(people, { maxLength: 2 }),
    officer: fc.subarray(people),
    auditor: fc.subarray(people, { maxLength: 2 }),
    custodian: fc.subarray(people),
  })
  .map((a) => a as RoleAssignment);
const approvalsArb = fc.array(fc.record({ person: fc.constantFrom(...people), role: roleArb }), { maxLength: 10 });

/** Reference semantics through the DNF: some alternative's forced approvals and counts are present. */
function dnfSatisfied(e: QuorumExpr, a: RoleAssignment, approvals: CountedApproval[]): boolean {
  const r = evaluateQuorum({ op: "atLeast", k: 99, role: "admin" }, a, approvals); // dedup + role filter only
  const counted = r.counted;
  return alternatives(e, a).some((c) => {
    for (const [p, role] of c.forced) if (!counted.some((x) => x.person === p && x.role === role)) return false;
    for (const [role, k] of c.need) if (counted.filter((x) => x.role === role).length < k) return false;
    return true;
  });
}

describe("properties", () => {
  it("format/parse round-trips every AST", () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        fc.pre(depth(e) <= 8 && formatQuorum(e).length <= 256);
        expect(parseQuorum(formatQuorum(e))).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws anything but a bad-expression error on arbitrary input", () => {
    const alphabet = fc.constantFrom(..."()", ",", " ", "and", "or", "all", "of", "2", "officers", "admin", "x", "0");
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(alphabet, { maxLength: 20 }).map((a) => a.join("")),
        ),
        (s) => {
          try {
            const e = parseQuorum(s);
            expect(parseQuorum(formatQuorum(e))).toEqual(e);
          } catch (err) {
            expect(isCeremonyError(err, "bad-expression")).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("evaluation agrees with the DNF reference semantics", () => {
    fc.assert(
      fc.property(exprArb, assignmentArb, approvalsArb, (e, a, approvals) => {
        expect(evaluateQuorum(e, a, approvals).satisfied).toBe(dnfSatisfied(e, a, approvals));
      }),
      { numRuns: 1000 },
    );
  });

  it("is monotone: more approvals never un-satisfy a requirement", () => {
    fc.assert(
      fc.property(exprArb, assignmentArb, approvalsArb, approvalsArb, (e, a, x, y) => {
        if (evaluateQuorum(e, a, x).satisfied) expect(evaluateQuorum(e, a, [...x, ...y]).satisfied).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("counts each person once, in one role, whatever they submit", () => {
    fc.assert(
      fc.property(exprArb, assignmentArb, approvalsArb, (e, a, approvals) => {
        const r = evaluateQuorum(e, a, approvals);
        const persons = r.counted.map((c) => c.person);
        expect(new Set(persons).size).toBe(persons.length);
        for (const c of r.counted) expect(a[c.role]).toContain(c.person);
        expect(r.counted.length + r.ignored.length).toBe(approvals.length);
        // repeating the whole batch (everyone approves twice) changes nothing
        expect(evaluateQuorum(e, a, [...approvals, ...approvals]).satisfied).toBe(r.satisfied);
      }),
      { numRuns: 1000 },
    );
  });

  it("what evaluates true is statically satisfiable, and satisfiable expressions have a witness set", () => {
    fc.assert(
      fc.property(exprArb, assignmentArb, approvalsArb, (e, a, approvals) => {
        if (evaluateQuorum(e, a, approvals).satisfied) expect(satisfiable(e, a)).toBe(true);
        if (satisfiable(e, a)) {
          // every assigned person approving in some role: try each alternative's greedy witness
          const ok = alternatives(e, a).some((c) => {
            if (!conjunctionFeasible(c, a)) return false;
            const set: CountedApproval[] = [...c.forced].map(([person, role]) => ({ person, role }));
            // fill the remaining counts by brute force over role choices of free people
            const free = [...new Set(ROLES.flatMap((r) => a[r]))].filter((p) => !c.forced.has(p));
            const choose = (i: number, acc: CountedApproval[]): boolean => {
              if (evaluateQuorum(e, a, acc).satisfied) return true;
              if (i === free.length) return false;
              const p = free[i]!;
              if (choose(i + 1, acc)) return true;
              return ROLES.filter((r) => a[r].includes(p)).some((r) => choose(i + 1, [...acc, { person: p, role: r }]));
            };
            return choose(0, set);
          });
          expect(ok).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("evaluation", () => {
  const e = parseQuorum("all(admin, witness) and 2 of officers");

  it("is satisfied by admin, witness and two officers", () => {
    const r = evaluateQuorum(e, A, [
      ap("alice", "admin"),
      ap("bob", "witness"),
      ap("carol", "officer"),
      ap("erin", "officer"),
    ]);
    expect(r.satisfied).toBe(true);
    expect(r.unmet).toEqual([]);
  });

  it("says what is missing", () => {
    const r = evaluateQuorum(e, A, [ap("alice", "admin"), ap("carol", "officer")]);
    expect(r.satisfied).toBe(false);
    expect(r.unmet).toEqual(["waiting for internal witness bob", "needs 1 more crypto officer (1 of 2)"]);
  });

  it("counts an officer approving twice once", () => {
    const r = evaluateQuorum(e, A, [
      ap("alice", "admin"),
      ap("bob", "witness"),
      ap("carol", "officer"),
      ap("carol", "officer"),
    ]);
    expect(r.satisfied).toBe(false);
    expect(r.ignored).toEqual([{ person: "carol", role: "officer", reason: "duplicate-person" }]);
  });

  it("does not let a person with two roles fill two places", () => {
    const e2 = parseQuorum("witness and custodian");
    const only = { ...A, custodian: ["bob"] };
    expect(satisfiable(e2, only)).toBe(false);
    const r = evaluateQuorum(e2, only, [ap("bob", "witness"), ap("bob", "custodian")]);
    expect(r.satisfied).toBe(false);
    expect(satisfiable(e2, A)).toBe(true);
  });

  it("ignores a claimed role the person does not hold", () => {
    const r = evaluateQuorum(parseQuorum("2 of officers"), A, [ap("carol", "officer"), ap("kim", "officer")]);
    expect(r.satisfied).toBe(false);
    expect(r.ignored[0]).toMatchObject({ person: "kim", reason: "role-not-held" });
  });

  it("reports unsatisfiable requirements before the day", () => {
    expect(satisfiable(parseQuorum("4 of officers"), A)).toBe(false);
    expect(satisfiable(parseQuorum("all(witness) and 3 of custodians"), A)).toBe(false);
    expect(satisfiable(parseQuorum("all(witness) and 2 of custodians"), A)).toBe(true);
    expect(satisfiable(parseQuorum("4 of officers or auditor"), A)).toBe(true);
  });

  it("describes the requirement and who may approve", () => {
    expect(describeQuorum(e, A)).toBe(
      "the ceremony administrator (alice) and the internal witness (bob) and 2 of the 3 crypto officers (carol, dave, erin)",
    );
    expect(eligibleApprovers(e, A).map((x) => x.person)).toEqual(["alice", "bob", "carol", "dave", "erin"]);
  });
});
