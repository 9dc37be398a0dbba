// Evaluates a quorum expression over the approvals that passed screening, with the rule that one
// person counts once per step (in the one role they approved as); static satisfiability for scripts. Pure.
import { CeremonyError } from "../errors.js";
import { PLURAL, type Role, ROLE_TITLES, ROLES } from "../roles.js";
import type { QuorumExpr } from "./grammar.js";
import { rolesOf } from "./grammar.js";

/** People holding each role in one ceremony (a person may appear under compatible roles). */
export type RoleAssignment = Readonly<Record<Role, readonly string[]>>;

/** An approval that passed screening: who approved, and in which role. */
export interface CountedApproval {
  person: string;
  role: Role;
}

export interface QuorumResult {
  satisfied: boolean;
  /** approvals that counted (at most one per person) */
  counted: CountedApproval[];
  /** approvals that could not count, with the reason */
  ignored: Array<CountedApproval & { reason: "duplicate-person" | "role-not-held" }>;
  /** what is still missing, in words; empty when satisfied */
  unmet: string[];
}

export function emptyAssignment(): Record<Role, string[]> {
  return { admin: [], witness: [], officer: [], auditor: [], custodian: [] };
}

function holders(a: RoleAssignment, r: Role): readonly string[] {
  return a[r] ?? [];
}

/**
 * Evaluates `expr`. Approvals are taken in order; a person's second approval is ignored (one person
 * counts once per step, whatever role they claim), and so is an approval in a role the person does
 * not hold in this ceremony.
 */
export function evaluateQuorum(
  expr: QuorumExpr,
  assignment: RoleAssignment,
  approvals: readonly CountedApproval[],
): QuorumResult {
  const seen = new Set<string>();
  const counted: CountedApproval[] = [];
  const ignored: QuorumResult["ignored"] = [];
  const byRole = new Map<Role, Set<string>>(ROLES.map((r) => [r, new Set<string>()]));
  for (const a of approvals) {
    if (seen.has(a.person)) {
      ignored.push({ ...a, reason: "duplicate-person" });
      continue;
    }
    if (!holders(assignment, a.role).includes(a.person)) {
      ignored.push({ ...a, reason: "role-not-held" });
      continue;
    }
    seen.add(a.person);
    counted.push({ person: a.person, role: a.role });
    byRole.get(a.role)!.add(a.person);
  }
  const unmet: string[] = [];
  const sat = (e: QuorumExpr, report: boolean): boolean => {
    switch (e.op) {
      case "all": {
        let ok = true;
        for (const r of e.roles) {
          const people = holders(assignment, r);
          if (people.length === 0) {
            ok = false;
            if (report) unmet.push(`no ${ROLE_TITLES[r]} is assigned to this ceremony`);
          }
          for (const p of people) {
            if (!byRole.get(r)!.has(p)) {
              ok = false;
              if (report) unmet.push(`waiting for ${ROLE_TITLES[r]} ${p}`);
            }
          }
        }
        return ok;
      }
      case "atLeast": {
        const have = byRole.get(e.role)!.size;
        if (have >= e.k) return true;
        if (report)
          unmet.push(
            `needs ${e.k - have} more ${e.k - have === 1 ? ROLE_TITLES[e.role] : PLURAL[e.role]} (${have} of ${e.k})`,
          );
        return false;
      }
      case "and": {
        let ok = true;
        for (const t of e.terms) if (!sat(t, report)) ok = false;
        return ok;
      }
      case "or": {
        if (e.terms.some((t) => sat(t, false))) return true;
        if (report) {
          const before = unmet.length;
          for (const t of e.terms) sat(t, true);
          const alts = unmet.splice(before);
          unmet.push(`one of: ${alts.join("; or ")}`);
        }
        return false;
      }
    }
  };
  const satisfied = sat(expr, true);
  return { satisfied, counted, ignored, unmet: satisfied ? [] : unmet };
}

// ---- static analysis ----

/** One alternative of the expression in disjunctive normal form. */
export interface Conjunction {
  /** people who must approve, in this role (from all(…)) */
  forced: Map<string, Role>;
  /** at least this many distinct approvers per role (forced ones included) */
  need: Map<Role, number>;
}

const MAX_ALTERNATIVES = 256;

/** The DNF of `expr` under `assignment`; alternatives that force one person into two roles are dropped. */
export function alternatives(expr: QuorumExpr, assignment: RoleAssignment): Conjunction[] {
  const go = (e: QuorumExpr): Conjunction[] => {
    switch (e.op) {
      case "all": {
        const forced = new Map<string, Role>();
        for (const r of e.roles) {
          const people = holders(assignment, r);
          if (people.length === 0) return [];
          for (const p of people) {
            const had = forced.get(p);
            if (had !== undefined && had !== r) return [];
            forced.set(p, r);
          }
        }
        return [{ forced, need: new Map() }];
      }
      case "atLeast":
        return [{ forced: new Map(), need: new Map([[e.role, e.k]]) }];
      case "or":
        return e.terms.flatMap(go);
      case "and": {
        let acc: Conjunction[] = [{ forced: new Map(), need: new Map() }];
        for (const t of e.terms) {
          const next: Conjunction[] = [];
          for (const a of acc)
            for (const b of go(t)) {
              const m = merge(a, b);
              if (m) next.push(m);
              if (next.length > MAX_ALTERNATIVES)
                throw new CeremonyError("bad-expression", "expression has too many alternatives to check");
            }
          acc = next;
        }
        return acc;
      }
    }
  };
  return go(expr);
}

function merge(a: Conjunction, b: Conjunction): Conjunction | undefined {
  const forced = new Map(a.forced);
  for (const [p, r] of b.forced) {
    const had = forced.get(p);
    if (had !== undefined && had !== r) return undefined;
    forced.set(p, r);
  }
  const need = new Map(a.need);
  for (const [r, k] of b.need) need.set(r, Math.max(need.get(r) ?? 0, k));
  return { forced, need };
}

/** Whether distinct people of `assignment`, each approving once in one role they hold, can satisfy `c`. */
export function conjunctionFeasible(c: Conjunction, assignment: RoleAssignment): boolean {
  const slots: Role[] = [];
  for (const [r, k] of c.need) {
    let have = 0;
    for (const role of c.forced.values()) if (role === r) have++;
    for (let i = have; i < k; i++) slots.push(r);
  }
  if (slots.length === 0) return true;
  const free = [...new Set(ROLES.flatMap((r) => holders(assignment, r)))].filter((p) => !c.forced.has(p));
  const eligible = (p: string, r: Role) => holders(assignment, r).includes(p);
  // Kuhn's augmenting paths: slots on the left, free people on the right
  const owner = new Map<string, number>();
  const tryAssign = (slot: number, visited: Set<string>): boolean => {
    for (const p of free) {
      if (!eligible(p, slots[slot]!) || visited.has(p)) continue;
      visited.add(p);
      const o = owner.get(p);
      if (o === undefined || tryAssign(o, visited)) {
        owner.set(p, slot);
        return true;
      }
    }
    return false;
  };
  for (let s = 0; s < slots.length; s++) if (!tryAssign(s, new Set())) return false;
  return true;
}

/** Whether the people assigned to a ceremony can satisfy `expr` at all (checked before the day). */
export function satisfiable(expr: QuorumExpr, assignment: RoleAssignment): boolean {
  return alternatives(expr, assignment).some((c) => conjunctionFeasible(c, assignment));
}

/** People who may approve a step with this requirement, with the roles in which they may. */
export function eligibleApprovers(
  expr: QuorumExpr,
  assignment: RoleAssignment,
): Array<{ person: string; roles: Role[] }> {
  const wanted = rolesOf(expr);
  const out = new Map<string, Role[]>();
  for (const r of ROLES) {
    if (!wanted.has(r)) continue;
    for (const p of holders(assignment, r)) out.set(p, [...(out.get(p) ?? []), r]);
  }
  return [...out].map(([person, roles]) => ({ person, roles }));
}

/** The requirement in words, naming the people: "the internal witness (bob) and 2 of the 3 crypto officers (…)". */
export function describeQuorum(expr: QuorumExpr, assignment: RoleAssignment): string {
  switch (expr.op) {
    case "all":
      return expr.roles
        .map((r) => {
          const people = holders(assignment, r);
          return people.length === 1
            ? `the ${ROLE_TITLES[r]} (${people[0]})`
            : `all ${people.length} ${ROLE_TITLES[r]}s (${people.join(", ")})`;
        })
        .join(" and ");
    case "atLeast": {
      const people = holders(assignment, expr.role);
      return `${expr.k} of the ${people.length} ${ROLE_TITLES[expr.role]}s (${people.join(", ")})`;
    }
    case "and":
    case "or":
      return expr.terms
        .map((t) =>
          t.op === "and" || t.op === "or" ? `(${describeQuorum(t, assignment)})` : describeQuorum(t, assignment),
        )
        .join(` ${expr.op} `);
  }
}
