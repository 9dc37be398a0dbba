// The participant registry: who takes part in ceremonies (name, roles, the approval key on their own
// token, the share-decryption key), each entry proven by a signature of its own token; strict parsing.
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { CeremonyError } from "./errors.js";
import { canonicalBytes, jcsHash } from "./jcs.js";
import { B64, keyIdOf, parseEcSpki, verifySha256 } from "./keys.js";
import { ROLES, type Role, roleConflict } from "./roles.js";

export const PERSON_ID = /^[a-z][a-z0-9-]{0,31}$/;
const personId = z.string().regex(PERSON_ID, "participant ids are lower-case letters, digits and '-', 1..32");
const b64 = z.string().regex(B64, "must be base64").min(4).max(4096);
const isoTime = z.iso.datetime({ offset: false });

export const TokenRefSchema = z.strictObject({
  label: z.string().min(1).max(32),
  serial: z.string().min(1).max(32),
});

export const ParticipantSchema = z.strictObject({
  id: personId,
  name: z.string().min(1).max(100),
  roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
  /** SPKI (base64 DER) of the P-256 approval key on the person's own token */
  approvalKey: b64,
  /** SPKI of the P-256 ECDH key on the same token that PIN and KEK shares are encrypted to */
  shareKey: b64.nullable(),
  token: TokenRefSchema,
  enrolledAt: isoTime,
  /** the approval key's signature over the enrollment statement (proof of possession) */
  proof: b64,
});
export type ParticipantEntry = z.infer<typeof ParticipantSchema>;

export const RegistrySchema = z.strictObject({
  schema: z.literal("plantroot/participant-registry/v1"),
  /** which PKI this registry belongs to, e.g. "Plant Nord PKI" */
  name: z.string().min(1).max(100),
  participants: z.array(ParticipantSchema).min(1).max(64),
});
export type RegistryDocument = z.infer<typeof RegistrySchema>;

/** What an enrollee's token signs: everything in the entry except the proof itself. */
export function enrollmentStatement(p: Omit<ParticipantEntry, "proof">) {
  return {
    type: "plantroot/enrollment/v1",
    id: p.id,
    name: p.name,
    roles: [...p.roles].sort(),
    approvalKey: p.approvalKey,
    shareKey: p.shareKey,
    token: { label: p.token.label, serial: p.token.serial },
    enrolledAt: p.enrolledAt,
  };
}

export interface Participant {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly approvalKey: KeyObject;
  /** SHA-256 of the approval key's SPKI: approvals name it */
  readonly keyId: string;
  readonly shareKey: KeyObject | undefined;
  readonly token: { label: string; serial: string };
  readonly entry: ParticipantEntry;
}

/** Roles whose holders receive shares and so must enroll a share-decryption key. */
export const SHARE_ROLES: readonly Role[] = ["officer", "custodian"];

/** A validated registry: every proof checked, separation rules held, keys unique. */
export class Registry {
  readonly hash: string;
  private readonly byId: Map<string, Participant>;

  private constructor(
    readonly document: RegistryDocument,
    participants: Participant[],
  ) {
    this.hash = jcsHash(document);
    this.byId = new Map(participants.map((p) => [p.id, p]));
  }

  /** Parses and validates untrusted registry JSON; throws CeremonyError("bad-registry"). */
  static parse(input: unknown): Registry {
    const r = RegistrySchema.safeParse(input);
    if (!r.success) throw new CeremonyError("bad-registry", `registry: ${z.prettifyError(r.error)}`);
    const doc = r.data;
    const out: Participant[] = [];
    const ids = new Set<string>();
    const keys = new Set<string>();
    for (const e of doc.participants) {
      if (ids.has(e.id)) throw new CeremonyError("bad-registry", `participant "${e.id}" is listed twice`);
      ids.add(e.id);
      out.push(validateEntry(e));
      for (const k of [e.approvalKey, e.shareKey]) {
        if (k === null) continue;
        const id = keyIdOf(Buffer.from(k, "base64"));
        if (keys.has(id))
          throw new CeremonyError("bad-registry", `participant "${e.id}" reuses a key already in the registry`);
        keys.add(id);
      }
    }
    return new Registry(doc, out);
  }

  static fromJson(text: string): Registry {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new CeremonyError("bad-registry", "registry is not valid JSON");
    }
    return Registry.parse(v);
  }

  get participants(): Participant[] {
    return [...this.byId.values()];
  }

  get(id: string): Participant | undefined {
    return this.byId.get(id);
  }

  require(id: string): Participant {
    const p = this.byId.get(id);
    if (!p) throw new CeremonyError("bad-registry", `"${id}" is not in the participant registry`);
    return p;
  }

  holding(role: Role): Participant[] {
    return this.participants.filter((p) => p.roles.includes(role));
  }

  /** The registry as canonical JSON bytes (what its hash covers). */
  bytes(): Buffer {
    return canonicalBytes(this.document);
  }
}

/** Checks one entry on its own: keys parse, shares key where needed, roles compatible, proof valid. */
export function validateEntry(e: ParticipantEntry): Participant {
  const conflict = roleConflict(e.roles);
  if (conflict)
    throw new CeremonyError("bad-registry", `participant "${e.id}" cannot be both ${conflict[0]} and ${conflict[1]}`);
  if (new Set(e.roles).size !== e.roles.length)
    throw new CeremonyError("bad-registry", `participant "${e.id}" lists a role twice`);
  const approvalKey = parseEcSpki(e.approvalKey, "P-256", `approval key of "${e.id}"`);
  let shareKey: KeyObject | undefined;
  if (e.shareKey !== null) shareKey = parseEcSpki(e.shareKey, "P-256", `share key of "${e.id}"`);
  const needsShareKey = e.roles.filter((r) => SHARE_ROLES.includes(r));
  if (needsShareKey.length && !shareKey)
    throw new CeremonyError("bad-registry", `participant "${e.id}" is a ${needsShareKey[0]} and needs a share key`);
  if (shareKey && e.shareKey === e.approvalKey)
    throw new CeremonyError("bad-registry", `participant "${e.id}" uses one key to approve and to receive shares`);
  if (!verifySha256(approvalKey, canonicalBytes(enrollmentStatement(e)), e.proof))
    throw new CeremonyError("bad-registry", `enrollment proof of "${e.id}" does not verify with its approval key`);
  return {
    id: e.id,
    name: e.name,
    roles: e.roles,
    approvalKey,
    keyId: keyIdOf(approvalKey),
    shareKey,
    token: e.token,
    entry: e,
  };
}
