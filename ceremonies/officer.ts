// A participant's own token (a smart card in production, a SoftHSM token in tests): enrollment of
// its approval and share keys, signing approvals, script signatures and cosignatures, opening shares.
import type { KeyObject } from "node:crypto";
import { deriveSharedSecret, generateDeriveKeyPair } from "../hsm/derive.js";
import type { HsmKey, HsmToken } from "../hsm/index.js";
import {
  type ApprovalKeySigner,
  type ApprovalRequest,
  approvalStatement,
  type SignedApproval,
  signApproval,
} from "./approvals.js";
import { CeremonyError } from "./errors.js";
import { canonicalBytes } from "./jcs.js";
import { keyIdOf, spkiOf } from "./keys.js";
import { enrollmentStatement, type ParticipantEntry, validateEntry } from "./registry.js";
import type { Role } from "./roles.js";

export const APPROVAL_KEY_LABEL = "plantroot-approval";
export const SHARE_KEY_LABEL = "plantroot-share";

export class OfficerToken implements ApprovalKeySigner {
  private constructor(
    readonly person: string,
    readonly token: HsmToken,
    readonly approvalKey: HsmKey,
    readonly shareKey: HsmKey | undefined,
  ) {}

  /**
   * Creates the approval key (P-256, sign only, never extractable) and, for share holders, the share
   * key (P-256, derive only) on the person's token, and signs the enrollment entry with the former.
   */
  static async enroll(
    token: HsmToken,
    who: { id: string; name: string; roles: Role[]; shareKey: boolean },
    now = new Date(),
  ): Promise<{ officer: OfficerToken; entry: ParticipantEntry }> {
    const approvalKey = token.generateKeyPair({ label: APPROVAL_KEY_LABEL, spec: "P-256" });
    const shareKey = who.shareKey ? generateDeriveKeyPair(token, { label: SHARE_KEY_LABEL }) : undefined;
    const info = token.tokenInfo();
    const unsigned = {
      id: who.id,
      name: who.name,
      roles: who.roles,
      approvalKey: approvalKey.spki.toString("base64"),
      shareKey: shareKey ? shareKey.spki.toString("base64") : null,
      token: { label: info.label, serial: info.serial },
      enrolledAt: now.toISOString(),
    };
    const proof = await approvalKey.sign(canonicalBytes(enrollmentStatement(unsigned)), "ecdsa-sha256");
    const entry: ParticipantEntry = { ...unsigned, proof: proof.toString("base64") };
    validateEntry(entry);
    return { officer: new OfficerToken(who.id, token, approvalKey, shareKey), entry };
  }

  /** Opens an already enrolled token. */
  static open(person: string, token: HsmToken): OfficerToken {
    const approvalKey = token.findKey(APPROVAL_KEY_LABEL);
    let shareKey: HsmKey | undefined;
    if (token.labelExists(SHARE_KEY_LABEL)) shareKey = token.findKey(SHARE_KEY_LABEL);
    return new OfficerToken(person, token, approvalKey, shareKey);
  }

  get keyId(): string {
    return keyIdOf(this.approvalKey.spki);
  }

  get approvalPublicKey(): KeyObject {
    return this.approvalKey.publicKey;
  }

  get approvalSpki(): Buffer {
    return spkiOf(this.approvalKey.publicKey);
  }

  /** ECDSA P-256 / SHA-256 with the approval key, DER. */
  sign(data: Buffer): Promise<Buffer> {
    return this.approvalKey.sign(data, "ecdsa-sha256");
  }

  /** Signs an approval of `req` in `role`. */
  approve(req: ApprovalRequest, role: Role, time = new Date()): Promise<SignedApproval> {
    return signApproval(approvalStatement(req, { id: this.person, keyId: this.keyId }, role, time), this);
  }

  /** The ECDH function share envelopes are opened with: it runs on this token. */
  readonly ecdh = (ephemeral: KeyObject): Buffer => {
    if (!this.shareKey) throw new CeremonyError("secret-sharing", `${this.person}'s token has no share key`);
    return deriveSharedSecret(this.token, this.shareKey, ephemeral);
  };
}
