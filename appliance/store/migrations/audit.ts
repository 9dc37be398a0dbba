// Schema of the audit chain: append-only entries (triggers refuse UPDATE and DELETE) and
// HSM-signed checkpoints over (size, head hash).
import type { Migration } from "./index.js";

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    id: "audit-0001-log",
    sql: `
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY CHECK (seq >= 1),
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  subject TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE TABLE audit_checkpoints (
  size INTEGER PRIMARY KEY CHECK (size >= 1),
  head_hash TEXT NOT NULL,
  time TEXT NOT NULL,
  key_spki BLOB NOT NULL,
  algorithm TEXT NOT NULL,
  signature BLOB NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
`,
  },
];
