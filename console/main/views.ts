// Maps the engine's read-side views (steps, decoded TBS, key attributes) to the console's plain
// views in console/common, so the renderer never depends on engine internals.
import type { DecodedTbs, StepView as EngineStep } from "../../ceremonies/index.js";
import type { KeyAttributes } from "../../hsm/index.js";
import type { ErrorView, ExceptionView, KeyAttributesView, StepView, TbsView } from "../common/views.js";

export function tbsView(t: Pick<DecodedTbs, "kind" | "sha256" | "lines">): TbsView {
  return {
    kind: t.kind,
    sha256: t.sha256,
    lines: t.lines.map((l) => ({ label: l.label, value: l.value, ...(l.critical ? { critical: true } : {}) })),
  };
}

export function keyAttributesView(k: KeyAttributes): KeyAttributesView {
  return {
    label: k.label,
    id: k.id,
    keyType: k.keyType,
    token: k.token,
    private: k.private,
    sensitive: k.sensitive,
    alwaysSensitive: k.alwaysSensitive,
    extractable: k.extractable,
    neverExtractable: k.neverExtractable,
    local: k.local,
    sign: k.sign,
    decrypt: k.decrypt,
    unwrap: k.unwrap,
    derive: k.derive,
  };
}

export function stepView(s: EngineStep, failure: ErrorView | undefined, exceptions: ExceptionView[]): StepView {
  const p = s.prepared;
  return {
    index: s.index,
    id: s.id,
    action: s.action,
    title: s.title,
    status: s.status,
    plan: s.plan,
    requires: {
      expression: s.requires.expression,
      description: s.requires.description,
      eligible: s.requires.eligible.map((e) => ({ person: e.person, name: e.name, roles: [...e.roles] })),
    },
    prepared: p
      ? {
          inputsHash: p.inputsHash,
          tbsHash: p.request.tbsHash,
          tbs: p.tbs ? tbsView(p.tbs) : null,
          checks: p.checks.map((c) => ({ ...c })),
          proposers: [...p.proposers],
          inputs: JSON.stringify(p.inputs, null, 2),
          shares: p.shares
            ? {
                purpose: p.shares.purpose,
                threshold: p.shares.threshold,
                holders: [...p.shares.holders],
                contributed: [...p.shares.contributed],
              }
            : null,
        }
      : null,
    approvals: s.approvals.map((a) => ({ person: a.person, name: a.name, role: a.role, time: a.time, keyId: a.keyId })),
    rejections: s.rejections.map((r) => ({
      person: r.person ?? null,
      reason: r.reason,
      detail: r.detail,
      time: r.time,
    })),
    quorum: { satisfied: s.quorum.satisfied, unmet: [...s.quorum.unmet] },
    result: s.result
      ? {
          outputs: s.result.outputs.map((o) => ({ ...o })),
          keyAttributes: s.result.keyAttributes.map(keyAttributesView),
          checks: s.result.checks.map((c) => ({ ...c })),
          summary: JSON.stringify(s.result.summary, null, 2),
        }
      : null,
    failure: s.error ? { kind: s.error.kind, message: s.error.message } : (failure ?? null),
    exceptions,
  };
}
