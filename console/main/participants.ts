// The participant registry kept by this console (enrollment writes it) and who is present: officers
// check in by proving their token (PIN + enrolled approval key); attendance is kept in the console log.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { APPROVAL_KEY_LABEL, OfficerToken, Registry, type RegistryDocument } from "../../ceremonies/index.js";
// not (yet) exported by ceremonies/index.js; asked for in NEWS-console-to-ceremonies.md
import { roleConflict } from "../../ceremonies/roles.js";
import type { Args } from "../common/channels.js";
import type { RegistryView } from "../common/views.js";
import { ConsoleError } from "./errors.js";
import type { ConsoleLog } from "./log.js";
import { withOfficer, withToken } from "./tokens.js";

export class Participants {
  private registry: Registry | undefined;
  private readonly present = new Map<string, { since: string; tokenLabel: string }>();
  private readonly attendance: RegistryView["attendance"] = [];
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly library: string,
    private readonly log: ConsoleLog,
    private readonly now: () => Date,
  ) {
    this.path = join(dataDir, "registry.json");
    if (existsSync(this.path)) this.registry = Registry.fromJson(readFileSync(this.path, "utf8"));
  }

  /** The validated registry; throws when nobody was enrolled yet. */
  require(): Registry {
    if (!this.registry)
      throw new ConsoleError("not-found", "no participant registry yet: enroll the participants first");
    return this.registry;
  }

  get current(): Registry | undefined {
    return this.registry;
  }

  isPresent(person: string): boolean {
    return this.present.has(person);
  }

  requirePresent(person: string): void {
    if (!this.present.has(person)) {
      const name = this.registry?.get(person)?.name ?? person;
      throw new ConsoleError("not-present", `${name} has not checked in at this console`);
    }
  }

  /** Creates the person's approval (and share) key on their own token and adds them to the registry. */
  async enroll(a: Args["enrollParticipant"]): Promise<RegistryView> {
    const doc: RegistryDocument = this.registry
      ? structuredClone(this.registry.document)
      : {
          schema: "plantroot/participant-registry/v1",
          name: a.registryName ?? "Plantroot PKI",
          participants: [],
        };
    if (doc.participants.some((p) => p.id === a.id))
      throw new ConsoleError("not-allowed", `"${a.id}" is already enrolled`);
    const roles = [...new Set(a.roles)];
    const conflict = roleConflict(roles);
    if (conflict) throw new ConsoleError("not-allowed", `one person cannot be both ${conflict[0]} and ${conflict[1]}`);
    if (doc.participants.some((p) => p.token.label === a.tokenLabel))
      throw new ConsoleError("not-allowed", `token "${a.tokenLabel}" is already enrolled for someone else`);
    const entry = await withToken(this.library, a.tokenLabel, a.pin, async (token) => {
      if (token.labelExists(APPROVAL_KEY_LABEL))
        throw new ConsoleError("not-allowed", `token "${a.tokenLabel}" already holds an approval key`);
      const shareKey = roles.includes("officer") || roles.includes("custodian");
      const r = await OfficerToken.enroll(token, { id: a.id, name: a.name, roles, shareKey }, this.now());
      return r.entry;
    });
    doc.participants.push(entry);
    const next = Registry.parse(doc);
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(next.document, null, 2)}\n`, { mode: 0o640 });
    renameSync(tmp, this.path);
    this.registry = next;
    this.log.append({
      event: "participant.enrolled",
      person: a.id,
      roles,
      token: a.tokenLabel,
      registryHash: next.hash,
    });
    return this.view();
  }

  async checkIn(a: Args["checkIn"]): Promise<RegistryView> {
    const reg = this.require();
    await withOfficer(this.library, reg, a.person, a.tokenLabel, a.pin, () => undefined);
    const time = this.now().toISOString();
    this.present.set(a.person, { since: time, tokenLabel: a.tokenLabel });
    this.attendance.unshift({ time, person: a.person, event: "in" });
    this.log.append({ event: "participant.checked-in", person: a.person, token: a.tokenLabel });
    return this.view();
  }

  checkOut(person: string): RegistryView {
    if (this.present.delete(person)) {
      const time = this.now().toISOString();
      this.attendance.unshift({ time, person, event: "out" });
      this.log.append({ event: "participant.checked-out", person });
    }
    return this.view();
  }

  view(): RegistryView {
    const r = this.registry;
    return {
      name: r?.document.name ?? null,
      hash: r?.hash ?? null,
      participants: (r?.participants ?? []).map((p) => ({
        id: p.id,
        name: p.name,
        roles: [...p.roles],
        tokenLabel: p.token.label,
        tokenSerial: p.token.serial,
        keyId: p.keyId,
        enrolledAt: p.entry.enrolledAt,
        present: this.present.get(p.id) ?? null,
      })),
      attendance: this.attendance.slice(0, 50),
    };
  }
}
