// The appliance inventory for officers: issued certificates soonest-expiring first, CRL and OCSP
// status and the SubCA's own expiry, read from the appliance's sqlite store; revocation only after a
// quorum of officers approved it on their own tokens, then carried out by the appliance's CA.
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Ca } from "../../appliance/ca/ca.js";
import { parseCaConfig } from "../../appliance/ca/config.js";
import { createCa } from "../../appliance/ca/create-ca.js";
import {
  keyIdentifier,
  nameToString,
  parseCertificate,
  pemToDer,
  REVOCATION_REASONS,
  subjectKeyIdOf,
} from "../../appliance/ca/index.js";
import { caRepository } from "../../appliance/store/ca-repository.js";
import { Db } from "../../appliance/store/db.js";
import { MIGRATIONS } from "../../appliance/store/migrations/index.js";
import { openReadOnly } from "../../appliance/store/readonly.js";
import {
  canonicalBytes,
  describeQuorum,
  eligibleApprovers,
  evaluateQuorum,
  formatQuorum,
  parseQuorum,
  type QuorumExpr,
  type Registry,
  ROLES,
  type Role as EngineRole,
} from "../../ceremonies/index.js";
import { HsmToken, type PinSource } from "../../hsm/index.js";
import type { Args } from "../common/channels.js";
import type { CertificateView, InventoryView, RevocationRequestView, Role } from "../common/views.js";
import { ConsoleError } from "./errors.js";
import type { ConsoleLog } from "./log.js";
import type { Participants } from "./participants.js";
import { withOfficer } from "./tokens.js";

export interface ApplianceSource {
  /** the appliance's sqlite store */
  db: string;
  /** the appliance's CA configuration (JSON): SubCA certificate, key labels; needed to revoke */
  caConfig?: string;
  /** the appliance token holding the SubCA key; needed to revoke (the CA signs the new CRL) */
  token?: { label: string; pin: PinSource };
  /** who must approve a revocation; default "all(admin) and 2 of officers" */
  revocationQuorum?: string;
}

export const DEFAULT_REVOCATION_QUORUM = "all(admin) and 2 of officers";
export const REVOCATION_APPROVAL_TYPE = "plantroot/revocation-approval/v1";
/** reasons the CA accepts (RFC 5280 codes), by name */
const REASONS: Record<string, number> = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
};
const APPROVAL_TTL_MS = 3600_000;
const DAY_MS = 86400_000;

interface Approval {
  person: string;
  role: Role;
  time: string;
  statement: Record<string, unknown>;
  signature: string;
}

interface Request {
  id: string;
  serial: string;
  reason: string;
  requestedAt: string;
  approvals: Approval[];
  status: RevocationRequestView["status"];
}

type Reader = Pick<Db, "get" | "all">;

interface CertRowLite {
  serial: string;
  profile: string;
  identifiers: string;
  not_before: number;
  not_after: number;
  revoked_at: number | null;
  revocation_reason: number | null;
}

export class Inventory {
  private readonly requests: Request[] = [];
  private readonly quorum: QuorumExpr;
  private ca: { ca: Ca; db: Db; token: HsmToken } | undefined;
  private readonly config: ReturnType<typeof parseCaConfig> | undefined;
  private readonly subCaDer: Buffer | undefined;

  constructor(
    private readonly source: ApplianceSource | undefined,
    private readonly library: string,
    private readonly participants: Participants,
    private readonly log: ConsoleLog,
    private readonly now: () => Date,
  ) {
    this.quorum = parseQuorum(source?.revocationQuorum ?? DEFAULT_REVOCATION_QUORUM);
    if (source?.caConfig) {
      const raw = JSON.parse(readFileSync(source.caConfig, "utf8")) as Record<string, unknown>;
      const base = dirname(resolve(source.caConfig));
      const cfg = parseCaConfig(raw);
      // relative certificate paths are relative to the configuration file
      const abs = (p: string) => resolve(base, p);
      cfg.certificates.issuing = abs(cfg.certificates.issuing);
      cfg.certificates.root = abs(cfg.certificates.root);
      cfg.certificates.intermediates = cfg.certificates.intermediates.map(abs);
      if (cfg.certificates.rootCrl) cfg.certificates.rootCrl = abs(cfg.certificates.rootCrl);
      this.config = cfg;
      const pem = readFileSync(cfg.certificates.issuing, "latin1");
      this.subCaDer = pem.includes("-----BEGIN") ? pemToDer(pem) : readFileSync(cfg.certificates.issuing);
    }
  }

  private get canRevoke(): string | null {
    if (!this.source) return "the console was started without an appliance store";
    if (!this.config) return "the console was started without the appliance's CA configuration (--appliance-config)";
    if (!this.source.token)
      return "the console was started without the appliance token (--appliance-token, --appliance-pin)";
    return null;
  }

  /** The CA (opened on first use): revocation and the CRL it signs need the appliance's SubCA key. */
  private async openCa(): Promise<Ca> {
    if (this.ca) return this.ca.ca;
    const why = this.canRevoke;
    if (why) throw new ConsoleError("unavailable", `revocation is not available: ${why}`);
    const token = HsmToken.open({
      library: this.library,
      label: this.source!.token!.label,
      pin: this.source!.token!.pin,
    });
    const db = await Db.open(this.source!.db, { migrations: MIGRATIONS });
    try {
      const ca = await createCa({ config: this.config!, token, db, now: this.now });
      this.ca = { ca, db, token };
      return ca;
    } catch (e) {
      await db.close();
      token.close();
      throw e;
    }
  }

  private async withReader<T>(fn: (q: Reader) => Promise<T>): Promise<T> {
    if (this.ca) return fn(this.ca.db);
    const q = await openReadOnly(this.source!.db);
    try {
      return await fn(q);
    } finally {
      await q.close();
    }
  }

  async view(): Promise<InventoryView> {
    const now = this.now();
    const base: InventoryView = {
      source: null,
      now: now.toISOString(),
      subCa: null,
      crl: null,
      ocsp: { good: 0, revoked: 0, lifetimeSeconds: this.config?.ocsp.lifetimeSeconds ?? null },
      certificates: [],
      revocations: this.requests.map((r) => this.requestView(r)),
      reasons: Object.keys(REASONS),
    };
    if (!this.source) return base;
    const why = this.canRevoke;
    base.source = { db: this.source.db, canRevoke: why === null, why };
    let issuerKeyId: Buffer | undefined;
    if (this.subCaDer) {
      const c = parseCertificate(this.subCaDer);
      base.subCa = {
        subject: nameToString(c.subject),
        issuer: nameToString(c.issuer),
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        daysLeft: Math.floor((c.notAfter.getTime() - now.getTime()) / DAY_MS),
        sha256: createHash("sha256").update(this.subCaDer).digest("hex"),
      };
      issuerKeyId = subjectKeyIdOf(c) ?? keyIdentifier(c.spki);
    }
    await this.withReader(async (q) => {
      const rows = await q.all<CertRowLite>(
        `SELECT serial, profile, identifiers, not_before, not_after, revoked_at, revocation_reason
         FROM ca_certificates WHERE status = 'issued' ORDER BY not_after ASC, serial ASC LIMIT 1000`,
      );
      base.certificates = rows.map((r) => certView(r, now));
      base.ocsp.good = base.certificates.filter((c) => c.ocsp === "good").length;
      base.ocsp.revoked = base.certificates.filter((c) => c.ocsp === "revoked").length;
      const crl = issuerKeyId
        ? await caRepository.crlState(q as Db, issuerKeyId)
        : await q.get<{ crl_number: number; this_update: number; next_update: number; entries: number }>(
            "SELECT crl_number, this_update, next_update, entries FROM ca_crl_state ORDER BY this_update DESC LIMIT 1",
          );
      if (crl)
        base.crl = {
          number: crl.crl_number,
          thisUpdate: new Date(crl.this_update).toISOString(),
          nextUpdate: new Date(crl.next_update).toISOString(),
          entries: crl.entries,
          fresh: crl.next_update > now.getTime(),
        };
    });
    return base;
  }

  async request(a: Args["requestRevocation"]): Promise<InventoryView> {
    if (!this.source) throw new ConsoleError("unavailable", "the console was started without an appliance store");
    if (!(a.reason in REASONS))
      throw new ConsoleError("bad-arguments", `"${a.reason}" is not a revocation reason the CA accepts`);
    const row = await this.withReader((q) =>
      q.get<CertRowLite>("SELECT serial, revoked_at FROM ca_certificates WHERE serial = ? AND status = 'issued'", [
        a.serial,
      ]),
    );
    if (!row) throw new ConsoleError("not-found", `no issued certificate with serial ${a.serial}`);
    if (row.revoked_at !== null) throw new ConsoleError("not-allowed", `certificate ${a.serial} is already revoked`);
    if (this.requests.some((r) => r.serial === a.serial && r.status === "collecting"))
      throw new ConsoleError("not-allowed", `a revocation of ${a.serial} is already collecting approvals`);
    const r: Request = {
      id: randomUUID(),
      serial: a.serial,
      reason: a.reason,
      requestedAt: this.now().toISOString(),
      approvals: [],
      status: "collecting",
    };
    this.requests.unshift(r);
    this.log.append({ event: "revocation.requested", id: r.id, serial: r.serial, reason: r.reason });
    return this.view();
  }

  async approve(a: Args["approveRevocation"]): Promise<InventoryView> {
    const r = this.find(a.requestId);
    if (r.status !== "collecting") throw new ConsoleError("not-allowed", `this revocation is ${r.status}`);
    const reg = this.participants.require();
    this.participants.requirePresent(a.person);
    const p = reg.require(a.person);
    if (!p.roles.includes(a.role)) throw new ConsoleError("not-allowed", `${p.name} is not enrolled as ${a.role}`);
    if (r.approvals.some((x) => x.person === a.person))
      throw new ConsoleError("not-allowed", `${p.name} already approved this revocation`);
    const statement = {
      type: REVOCATION_APPROVAL_TYPE,
      requestId: r.id,
      serial: r.serial,
      reason: r.reason,
      store: this.source!.db,
      approver: a.person,
      role: a.role,
      keyId: p.keyId,
      time: this.now().toISOString(),
    };
    const sig = await withOfficer(this.library, reg, a.person, a.tokenLabel, a.pin, (o) =>
      o.sign(canonicalBytes(statement)),
    );
    r.approvals.push({
      person: a.person,
      role: a.role,
      time: statement.time,
      statement,
      signature: sig.toString("base64"),
    });
    this.log.append({
      event: "revocation.approved",
      id: r.id,
      serial: r.serial,
      person: a.person,
      role: a.role,
      statement,
      signature: sig.toString("base64"),
    });
    return this.view();
  }

  async execute(requestId: string): Promise<InventoryView> {
    const r = this.find(requestId);
    if (r.status !== "collecting") throw new ConsoleError("not-allowed", `this revocation is ${r.status}`);
    const q = this.evaluate(r);
    if (!q.satisfied)
      throw new ConsoleError("not-allowed", `the revocation needs more approvals: ${q.unmet.join("; ")}`);
    const ca = await this.openCa();
    const approvers = this.liveApprovals(r).map((a) => `${a.person}(${a.role})`);
    await ca.revoke(r.serial, REASONS[r.reason]!, { actor: `console: approved by ${approvers.join(", ")}` });
    r.status = "revoked";
    this.log.append({ event: "revocation.executed", id: r.id, serial: r.serial, reason: r.reason, approvers });
    return this.view();
  }

  cancel(requestId: string): Promise<InventoryView> {
    const r = this.find(requestId);
    if (r.status === "collecting") {
      r.status = "cancelled";
      this.log.append({ event: "revocation.cancelled", id: r.id, serial: r.serial });
    }
    return this.view();
  }

  async close(): Promise<void> {
    if (!this.ca) return;
    await this.ca.ca.close();
    await this.ca.db.close();
    this.ca.token.close();
    this.ca = undefined;
  }

  private find(id: string): Request {
    const r = this.requests.find((x) => x.id === id);
    if (!r) throw new ConsoleError("not-found", "no such revocation request");
    return r;
  }

  private assignment() {
    const reg = this.participants.current;
    const a = {} as Record<EngineRole, string[]>;
    for (const role of ROLES) a[role] = reg ? reg.holding(role).map((p) => p.id) : [];
    return a;
  }

  private liveApprovals(r: Request): Approval[] {
    const now = this.now().getTime();
    return r.approvals.filter((a) => now - Date.parse(a.time) < APPROVAL_TTL_MS);
  }

  private evaluate(r: Request) {
    return evaluateQuorum(
      this.quorum,
      this.assignment(),
      this.liveApprovals(r).map((a) => ({ person: a.person, role: a.role })),
    );
  }

  private requestView(r: Request): RevocationRequestView {
    const reg: Registry | undefined = this.participants.current;
    const q = this.evaluate(r);
    return {
      id: r.id,
      serial: r.serial,
      reason: r.reason,
      requestedAt: r.requestedAt,
      requires: {
        expression: formatQuorum(this.quorum),
        description: describeQuorum(this.quorum, this.assignment()),
        eligible: eligibleApprovers(this.quorum, this.assignment()).map((e) => ({
          person: e.person,
          name: reg?.get(e.person)?.name ?? e.person,
          roles: [...e.roles],
        })),
      },
      approvals: r.approvals.map((a) => ({
        person: a.person,
        name: reg?.get(a.person)?.name ?? a.person,
        role: a.role,
        time: a.time,
      })),
      quorum: { satisfied: q.satisfied, unmet: [...q.unmet] },
      status: r.status,
    };
  }
}

function certView(r: CertRowLite, now: Date): CertificateView {
  let ids: string[] = [];
  try {
    ids = (JSON.parse(r.identifiers) as Array<{ type: string; value: string }>).map((i) => `${i.type}:${i.value}`);
  } catch {
    ids = [r.identifiers];
  }
  return {
    serial: r.serial,
    profile: r.profile,
    identifiers: ids,
    notBefore: new Date(r.not_before).toISOString(),
    notAfter: new Date(r.not_after).toISOString(),
    daysLeft: Math.floor((r.not_after - now.getTime()) / DAY_MS),
    revoked:
      r.revoked_at !== null
        ? {
            at: new Date(r.revoked_at).toISOString(),
            reason: REVOCATION_REASONS[r.revocation_reason ?? 0] ?? "unspecified",
          }
        : null,
    ocsp: r.revoked_at !== null ? "revoked" : "good",
  };
}
