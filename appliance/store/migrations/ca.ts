// Schema of the CA's records: every certificate from intent ('signing') to 'issued' or 'abandoned',
// its revocation, and the CRL state (number strictly increasing, last CRL served).
import type { Migration } from "./index.js";

export const CA_MIGRATIONS: readonly Migration[] = [
  {
    id: "ca-0001-certificates",
    sql: `
CREATE TABLE ca_certificates (
  serial TEXT PRIMARY KEY CHECK (length(serial) BETWEEN 2 AND 40 AND serial = lower(serial)),
  status TEXT NOT NULL CHECK (status IN ('signing', 'issued', 'abandoned')),
  tbs_sha256 BLOB NOT NULL,
  tbs BLOB NOT NULL,
  der BLOB,
  profile TEXT NOT NULL,
  issuer_key_id BLOB NOT NULL,
  identifiers TEXT NOT NULL,
  account_id TEXT,
  order_id TEXT,
  replaces TEXT,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  issued_at INTEGER,
  abandoned_reason TEXT,
  revoked_at INTEGER,
  revocation_reason INTEGER,
  revoked_by TEXT,
  CHECK ((status = 'issued') = (der IS NOT NULL)),
  CHECK (revoked_at IS NULL OR status = 'issued'),
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) WITHOUT ROWID;
CREATE INDEX ca_certificates_signing ON ca_certificates (status) WHERE status = 'signing';
CREATE INDEX ca_certificates_revoked ON ca_certificates (issuer_key_id, not_after) WHERE revoked_at IS NOT NULL;
CREATE INDEX ca_certificates_order ON ca_certificates (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE ca_crl_state (
  issuer_key_id BLOB PRIMARY KEY,
  crl_number INTEGER NOT NULL CHECK (crl_number >= 1),
  this_update INTEGER NOT NULL,
  next_update INTEGER NOT NULL,
  entries INTEGER NOT NULL,
  der BLOB NOT NULL
);
CREATE TRIGGER ca_crl_number_increases BEFORE UPDATE OF crl_number ON ca_crl_state
WHEN NEW.crl_number <= OLD.crl_number
BEGIN SELECT RAISE(ABORT, 'CRL number must increase'); END;
`,
  },
];
