// Test double of the Validator contract for ACME-layer tests: answers from a table, records calls.
// The real validator (appliance/validation) is exercised by the interop tests.
import type { ValidationRequest, ValidationResult, Validator } from "../../appliance/validation/api.js";

export class FakeValidator implements Validator {
  readonly calls: ValidationRequest[] = [];
  /** identifier value → failure to report; anything else validates */
  readonly failures = new Map<string, NonNullable<ValidationResult["problem"]>>();
  delayMs = 0;

  async validate(req: ValidationRequest): Promise<ValidationResult> {
    this.calls.push(req);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const problem = this.failures.get(req.identifier.value);
    if (problem) return { ok: false, records: [{ hostname: req.identifier.value }], problem };
    return { ok: true, records: [{ hostname: req.identifier.value, addressUsed: "127.0.0.1" }] };
  }
}
