// Schema of the ACME records: accounts, EAB credentials, orders, authorizations, challenges and the
// order↔authorization links. Times are integer milliseconds since the epoch; `version` columns make
// every update a compare-and-set.
import type { Migration } from "./index.js";

export const ACME_MIGRATIONS: readonly Migration[] = [
  {
    id: "acme-0001-core",
    sql: `
CREATE TABLE acme_eab_credentials (
  kid TEXT PRIMARY KEY,
  hmac_key BLOB NOT NULL,
  label TEXT NOT NULL,
  identifiers TEXT NOT NULL DEFAULT '[]',
  reusable INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  bound_accounts INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE acme_accounts (
  id TEXT PRIMARY KEY,
  thumbprint TEXT NOT NULL UNIQUE,
  jwk TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('valid','deactivated','revoked')),
  contact TEXT NOT NULL DEFAULT '[]',
  tos_agreed INTEGER NOT NULL DEFAULT 0,
  eab_kid TEXT REFERENCES acme_eab_credentials(kid),
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE acme_orders (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  -- pending | processing | valid | invalid as stored; ready and expiry are derived when read
  status TEXT NOT NULL CHECK (status IN ('pending','ready','processing','valid','invalid')),
  expires INTEGER NOT NULL,
  identifiers TEXT NOT NULL,
  authorization_ids TEXT NOT NULL,
  not_before INTEGER,
  not_after INTEGER,
  profile TEXT,
  replaces TEXT,
  error TEXT,
  csr BLOB,
  certificate_serial TEXT,
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX acme_orders_by_account ON acme_orders(account_id, created_at);
CREATE INDEX acme_orders_processing ON acme_orders(status) WHERE status = 'processing';
CREATE INDEX acme_orders_by_replaces ON acme_orders(replaces) WHERE replaces IS NOT NULL;
CREATE UNIQUE INDEX acme_orders_by_serial ON acme_orders(certificate_serial) WHERE certificate_serial IS NOT NULL;

-- one row per authorization with its challenges (JSON) so a challenge update is one statement
CREATE TABLE acme_authorizations (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES acme_accounts(id),
  -- the order that created it (it turns invalid with it)
  order_id TEXT,
  identifier_type TEXT NOT NULL CHECK (identifier_type IN ('dns','ip')),
  identifier_value TEXT NOT NULL,
  wildcard INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL CHECK (status IN ('pending','valid','invalid','deactivated','expired','revoked')),
  expires INTEGER NOT NULL,
  pre_authorized INTEGER NOT NULL DEFAULT 0,
  challenges TEXT NOT NULL,
  -- 1 while a challenge is being validated (resumed after a restart)
  processing INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX acme_authz_reuse ON acme_authorizations(account_id, identifier_type, identifier_value, wildcard, status, expires);
CREATE INDEX acme_authz_processing ON acme_authorizations(processing) WHERE processing = 1;
`,
  },
  {
    // newOrder counts an account's unfinished orders (maxPendingOrdersPerAccount)
    id: "acme-0002-pending-orders-index",
    sql: "CREATE INDEX acme_orders_pending ON acme_orders(account_id, expires) WHERE status = 'pending';",
  },
];
