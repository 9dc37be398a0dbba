// appliance/audit: the append-only, hash-chained audit log with HSM-signed checkpoints and its
// offline verifier. Other components call `AuditLog.append` / `appendTx`.
export {
  type AppendedEntry,
  type AuditEvent,
  AuditLog,
  type AuditLogOptions,
  type CheckpointSigner,
} from "./audit-log.js";
export { canonicalJson, checkpointStatement, entryHash, GENESIS_HASH } from "./chain.js";
export { type VerifyOptions, type VerifyProblem, type VerifyReport, verifyAuditChain } from "./verify.js";
