// The action table: which engine function runs each script action.
import type { Action } from "../engine/types.js";
import type { ScriptStep, StepAction } from "../script.js";
import { backupRecover, backupWrap } from "./backup.js";
import { certCross, certImport, certRoot, certSubCa } from "./certs.js";
import { crlIssue } from "./crl.js";
import { csrCreate } from "./csr.js";
import { keyGenerate, registryConfirm } from "./keys.js";
import { tokenInit, tokenUnlock } from "./tokens.js";

export const ACTIONS: Record<StepAction, Action<never>> = {
  "registry.confirm": registryConfirm,
  "token.init": tokenInit,
  "token.unlock": tokenUnlock,
  "key.generate": keyGenerate,
  "csr.create": csrCreate,
  "backup.wrap": backupWrap,
  "backup.recover": backupRecover,
  "cert.root": certRoot,
  "cert.subca": certSubCa,
  "cert.cross": certCross,
  "cert.import": certImport,
  "crl.issue": crlIssue,
};

export function actionFor<S extends ScriptStep>(step: S): Action<S> | undefined {
  return ACTIONS[step.action] as Action<S> | undefined;
}
