// Ceremony roles (after IANA's KSK ceremonies) and the separation rules between them: which roles one
// person may not combine, in the registry and in a ceremony's role assignment. Pure.

export const ROLES = ["admin", "witness", "officer", "auditor", "custodian"] as const;
export type Role = (typeof ROLES)[number];

/** What each role does, for the console and the report. */
export const ROLE_TITLES: Record<Role, string> = {
  admin: "ceremony administrator",
  witness: "internal witness",
  officer: "crypto officer",
  auditor: "auditor",
  custodian: "key backup custodian",
};

/** Spellings a quorum expression accepts for each role (singular and plural). */
export const ROLE_WORDS: Record<string, Role> = {
  admin: "admin",
  admins: "admin",
  witness: "witness",
  witnesses: "witness",
  officer: "officer",
  officers: "officer",
  auditor: "auditor",
  auditors: "auditor",
  custodian: "custodian",
  custodians: "custodian",
};

export const PLURAL: Record<Role, string> = {
  admin: "admins",
  witness: "witnesses",
  officer: "officers",
  auditor: "auditors",
  custodian: "custodians",
};

/**
 * Role pairs one person must never hold together: the administrator runs the script and so cannot
 * also hold key material (officer, custodian) or check themselves (witness); the witness is distinct
 * from those it watches; officers and custodians keep split knowledge; the auditor is independent.
 */
export const INCOMPATIBLE_ROLES: ReadonlyArray<readonly [Role, Role]> = [
  ["admin", "witness"],
  ["admin", "officer"],
  ["admin", "custodian"],
  ["admin", "auditor"],
  ["witness", "officer"],
  ["witness", "auditor"],
  ["officer", "custodian"],
  ["officer", "auditor"],
  ["custodian", "auditor"],
];

/** The first incompatible pair among `roles`, or undefined when they may be combined. */
export function roleConflict(roles: readonly Role[]): readonly [Role, Role] | undefined {
  return INCOMPATIBLE_ROLES.find(([a, b]) => roles.includes(a) && roles.includes(b));
}

export function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}
