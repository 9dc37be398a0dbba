// The hash-chained ceremony transcript (time, person, role, action, inputs, output hashes, key
// attributes read back from the HSM) and its checkpoints: signed by an HSM key, cosigned by people.
import { z } from "zod";
import { CeremonyError } from "./errors.js";
import { canonicalBytes, canonicalJson, HEX64, jcsHash, type JsonValue } from "./jcs.js";
import { B64 } from "./keys.js";
import { PERSON_ID } from "./registry.js";
import { ROLES } from "./roles.js";

const hex64 = z.string().regex(HEX64);

export const KeyAttributesSchema = z.strictObject({
  label: z.string(),
  id: z.string().regex(/^[0-9a-f]*$/),
  keyType: z.string(),
  token: z.boolean(),
  private: z.boolean(),
  sensitive: z.boolean(),
  alwaysSensitive: z.boolean(),
  extractable: z.boolean(),
  neverExtractable: z.boolean(),
  local: z.boolean(),
  sign: z.boolean(),
  decrypt: z.boolean(),
  unwrap: z.boolean(),
  derive: z.boolean(),
});

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

export const ENTRY_ACTIONS = [
  "ceremony.open",
  "step.prepared",
  "input.provided",
  "approval.accepted",
  "approval.rejected",
  "share.contributed",
  "step.executed",
  "step.refused",
  "step.failed",
  "checkpoint.cosigned",
  "ceremony.closed",
] as const;
export type EntryAction = (typeof ENTRY_ACTIONS)[number];

export const EntryBodySchema = z.strictObject({
  seq: z.number().int().min(0),
  time: z.iso.datetime({ offset: false }),
  /** participant id of who acted (the administrator for engine actions) */
  person: z.string().regex(PERSON_ID),
  role: z.enum(ROLES),
  action: z.enum(ENTRY_ACTIONS),
  step: z.string().nullable(),
  /** what the action was given (small values, hashes of large ones) */
  inputs: z.record(z.string(), jsonValue),
  /** bundle path -> SHA-256 of the file written */
  outputs: z.record(z.string(), hex64),
  /** the HSM's own answer about keys the step created or used */
  keyAttributes: z.array(KeyAttributesSchema),
  /** hash of the previous entry (or of the genesis statement for entry 0) */
  prev: hex64,
});
export type EntryBody = z.infer<typeof EntryBodySchema>;

export const EntrySchema = EntryBodySchema.extend({ hash: hex64 }).strict();
export type TranscriptEntry = z.infer<typeof EntrySchema>;

/** The value entry 0 links to: binds the chain to one ceremony and script. */
export function genesis(ceremonyId: string, scriptHash: string): string {
  return jcsHash({ type: "plantroot/ceremony-transcript/v1", ceremonyId, scriptHash });
}

export function entryHash(body: EntryBody): string {
  return jcsHash(body);
}

/** An append-only transcript held in memory and mirrored line by line to a JSONL sink. */
export class Transcript {
  private readonly list: TranscriptEntry[] = [];
  constructor(
    readonly ceremonyId: string,
    readonly scriptHash: string,
    private readonly sink: (line: string) => void,
  ) {}

  get entries(): readonly TranscriptEntry[] {
    return this.list;
  }

  get head(): string {
    return this.list.length ? this.list[this.list.length - 1]!.hash : genesis(this.ceremonyId, this.scriptHash);
  }

  get size(): number {
    return this.list.length;
  }

  append(e: Omit<EntryBody, "seq" | "prev" | "keyAttributes" | "outputs"> & Partial<EntryBody>): TranscriptEntry {
    const body: EntryBody = EntryBodySchema.parse({
      outputs: {},
      keyAttributes: [],
      ...e,
      seq: this.list.length,
      prev: this.head,
    });
    const line = canonicalJson({ ...body, hash: entryHash(body) });
    this.sink(`${line}\n`);
    // keep exactly what is on disk (canonical key order), so readers see the same object either way
    const entry = JSON.parse(line) as TranscriptEntry;
    this.list.push(entry);
    return entry;
  }
}

/**
 * Parses transcript JSONL and checks the chain. Throws CeremonyError("bad-bundle") naming the first
 * broken entry (edited, removed, inserted or reordered entries all break it).
 */
export function readTranscript(text: string, ceremonyId: string, scriptHash: string): TranscriptEntry[] {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out: TranscriptEntry[] = [];
  let prev = genesis(ceremonyId, scriptHash);
  for (const [i, line] of lines.entries()) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new CeremonyError("bad-bundle", `transcript line ${i + 1} is not JSON`);
    }
    const r = EntrySchema.safeParse(v);
    if (!r.success) throw new CeremonyError("bad-bundle", `transcript line ${i + 1}: ${z.prettifyError(r.error)}`);
    const e = r.data;
    if (e.seq !== i)
      throw new CeremonyError(
        "bad-bundle",
        `transcript line ${i + 1} has sequence number ${e.seq}: entries were removed, inserted or reordered`,
      );
    if (e.prev !== prev)
      throw new CeremonyError(
        "bad-bundle",
        `transcript entry ${i} does not link to entry ${i - 1}: entries were removed, inserted, reordered or edited`,
      );
    const { hash, ...body } = e;
    if (entryHash(body) !== hash)
      throw new CeremonyError(
        "bad-bundle",
        `transcript entry ${i} (${e.action}) was edited: its hash does not match its content`,
      );
    if (canonicalJson(e) !== line)
      throw new CeremonyError("bad-bundle", `transcript line ${i + 1} is not in canonical form`);
    prev = hash;
    out.push(e);
  }
  return out;
}

// ---- checkpoints ----

export const CHECKPOINT_TYPE = "plantroot/ceremony-checkpoint/v1";

export const CheckpointBodySchema = z.strictObject({
  type: z.literal(CHECKPOINT_TYPE),
  ceremonyId: z.string(),
  /** number of transcript entries covered */
  size: z.number().int().min(1),
  /** hash of entry size-1 */
  head: hex64,
  time: z.iso.datetime({ offset: false }),
});
export type CheckpointBody = z.infer<typeof CheckpointBodySchema>;

export const CheckpointSchema = z.strictObject({
  body: CheckpointBodySchema,
  /** the ceremony-log key in the CA token: label, SPKI hash and DER ECDSA signature (base64) */
  log: z.strictObject({ label: z.string(), keyId: hex64, signature: z.string().regex(B64) }),
  /** people's signatures over the same bytes with their approval keys */
  cosignatures: z.array(
    z.strictObject({ person: z.string().regex(PERSON_ID), role: z.enum(ROLES), signature: z.string().regex(B64) }),
  ),
});
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export function checkpointBytes(body: CheckpointBody): Buffer {
  return canonicalBytes(body);
}
