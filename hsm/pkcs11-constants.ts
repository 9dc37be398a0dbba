// pkcs11js constants (CKA_*, CKM_*, CKO_*, CKK_*) loaded through createRequire, because ESM
// `import * as` does not see them.
import { createRequire } from "node:module";
import type * as Pkcs11Js from "pkcs11js";

const require = createRequire(import.meta.url);
export const pkcs11: typeof Pkcs11Js = require("pkcs11js");

export const C = pkcs11 as unknown as Record<string, number>;

// Mechanisms SoftHSM supports that older pkcs11js typings may not name
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EDDSA = 0x1057;
export const CKK_EC_EDWARDS = 0x40;
