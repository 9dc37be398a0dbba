// The validation authority's public surface: the contract types, the factory and its config
// schema. Callers (appliance/acme, the CLI) import from here only.
export type {
  ChallengeType,
  ValidationProblemType,
  ValidationRecord,
  ValidationRequest,
  ValidationResult,
  Validator,
} from "./api.js";
export {
  type ValidationConfig,
  type ValidationConfigInput,
  demoValidationConfig,
  parseValidationConfig,
  validationConfigSchema,
} from "./config.js";
export type { DialTarget } from "./dialer.js";
export { dns01Digest } from "./dns01.js";
export { ACME_TLS_ALPN, ID_PE_ACME_IDENTIFIER } from "./tlsalpn01.js";
export {
  type ValidationAuthority,
  type ValidatorOptions,
  type ValidatorStats,
  createValidator,
} from "./validator.js";
