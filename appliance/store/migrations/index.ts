// Every schema migration, in the order they are applied. Each component owns its own file of
// migrations (tables for its records); ids are never renamed or reordered once released.
// A database that has a migration id this list lacks was written by a newer Plantroot: refused.
import { ACME_MIGRATIONS } from "./acme.js";
import { AUDIT_MIGRATIONS } from "./audit.js";
import { CA_MIGRATIONS } from "./ca.js";

export interface Migration {
  /** unique, stable: `<component>-<nnnn>-<what>` */
  id: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [...AUDIT_MIGRATIONS, ...CA_MIGRATIONS, ...ACME_MIGRATIONS];
