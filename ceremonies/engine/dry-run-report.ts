// The dry-run report: what a run of the script against throw-away SoftHSM tokens produced (plans,
// inputs, decoded TBS, checks, key attributes). Reviewers sign its hash together with the script.
import { z } from "zod";
import { CeremonyError } from "../errors.js";
import { HEX64, type JsonValue } from "../jcs.js";

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);
const CheckSchema = z.strictObject({ name: z.string(), ok: z.boolean(), detail: z.string() });

export const DryRunStepSchema = z.strictObject({
  id: z.string(),
  action: z.string(),
  /** "simulated": run against throw-away tokens; "not-simulated": needs people's tokens or material that exists only on the day */
  status: z.enum(["simulated", "not-simulated"]),
  note: z.string(),
  plan: z.array(z.string()),
  inputs: z.record(z.string(), jsonValue),
  checks: z.array(CheckSchema),
  tbs: z
    .strictObject({
      kind: z.enum(["certificate", "crl", "csr"]),
      sha256: z.string().regex(HEX64),
      lines: z.array(z.strictObject({ label: z.string(), value: z.string(), critical: z.boolean().optional() })),
    })
    .nullable(),
  postChecks: z.array(CheckSchema),
  keyAttributes: z.array(z.record(z.string(), jsonValue)),
});

export const DryRunReportSchema = z.strictObject({
  schema: z.literal("plantroot/ceremony-dry-run/v1"),
  ceremonyId: z.string(),
  scriptHash: z.string().regex(HEX64),
  time: z.iso.datetime({ offset: false }),
  environment: z.strictObject({
    library: z.string(),
    note: z.string(),
    tokens: z.record(z.string(), z.string()),
  }),
  steps: z.array(DryRunStepSchema),
});
export type DryRunReport = z.infer<typeof DryRunReportSchema>;
export type DryRunStep = z.infer<typeof DryRunStepSchema>;

export function parseDryRun(input: unknown): DryRunReport {
  const r = DryRunReportSchema.safeParse(input);
  if (!r.success) throw new CeremonyError("bad-script", `dry-run report: ${z.prettifyError(r.error)}`);
  return r.data;
}
