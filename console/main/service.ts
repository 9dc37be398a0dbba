// The console's ceremony-level commands, hosted in the Electron main process (or the loopback host):
// participants and presence, reviewed scripts, the running ceremony, evidence export and verification,
// inventory and revocation. Every command takes already-validated arguments (see commands.ts).
import "reflect-metadata";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_LIBRARY, type PinSource } from "../../hsm/index.js";
import type { Args, Command, Results } from "../common/channels.js";
import type { ConsoleState } from "../common/views.js";
import { CeremonyRun, verifyView } from "./ceremony.js";
import { ConsoleError } from "./errors.js";
import { type ApplianceSource, Inventory } from "./inventory.js";
import { ConsoleLog } from "./log.js";
import { Participants } from "./participants.js";
import { PathPolicy } from "./paths.js";
import { ScriptPackages } from "./scripts.js";
import { listTokens } from "./tokens.js";

export interface ConsoleOptions {
  /** registry, script packages, ceremony bundles and the console log live here */
  dataDir: string;
  mode: "electron" | "host";
  /** PKCS#11 library of participants' tokens and of the CA HSM; default SoftHSM2 */
  library?: string;
  /** PIN sources of operator tokens (e.g. the appliance's own token), by token label */
  operatorPins?: Record<string, PinSource>;
  appliance?: ApplianceSource;
  /** where removable media are mounted; default /media and /run/media */
  mediaRoots?: string[];
  /** directory chooser of the platform (Electron's dialog); the loopback host has none */
  chooseDirectory?: (purpose: Args["chooseDirectory"]["purpose"]) => Promise<string | null>;
  clock?: () => Date;
}

export type Handlers = { [C in Command]: (args: Args[C]) => Promise<Results[C]> };

export class ConsoleService {
  readonly dataDir: string;
  readonly library: string;
  private readonly now: () => Date;
  private readonly log: ConsoleLog;
  readonly participants: Participants;
  readonly scripts: ScriptPackages;
  readonly inventory: Inventory;
  private ceremony: CeremonyRun | undefined;
  private readonly bundlesDir: string;
  private readonly paths: PathPolicy;

  constructor(private readonly opts: ConsoleOptions) {
    this.dataDir = resolve(opts.dataDir);
    mkdirSync(this.dataDir, { recursive: true, mode: 0o750 });
    this.bundlesDir = join(this.dataDir, "ceremonies");
    mkdirSync(this.bundlesDir, { recursive: true });
    this.library = opts.library ?? DEFAULT_LIBRARY;
    this.now = opts.clock ?? (() => new Date());
    this.log = new ConsoleLog(this.dataDir, this.now);
    this.participants = new Participants(this.dataDir, this.library, this.log, this.now);
    this.scripts = new ScriptPackages(this.dataDir, this.library, this.log);
    this.inventory = new Inventory(opts.appliance, this.library, this.participants, this.log, this.now);
    this.paths = new PathPolicy([...this.mediaRoots(), this.dataDir]);
  }

  private mediaRoots(): string[] {
    return this.opts.mediaRoots ?? ["/media", "/run/media"];
  }

  private run(): CeremonyRun {
    if (!this.ceremony) throw new ConsoleError("no-ceremony", "no ceremony is open: start one from a reviewed script");
    return this.ceremony;
  }

  state(): ConsoleState {
    return {
      mode: this.opts.mode,
      dataDir: this.dataDir,
      registry: this.participants.view(),
      tokens: listTokens(this.library),
      scripts: this.scripts.list(this.participants.current),
      ceremony: this.ceremony?.view() ?? null,
      media: this.media(),
    };
  }

  /** Mounted removable media (candidate export destinations). */
  media(): string[] {
    const out: string[] = [];
    for (const root of this.mediaRoots()) {
      if (!existsSync(root)) continue;
      for (const a of safeDirs(root)) {
        // /media/<user>/<label> and /run/media/<user>/<label>, or /media/<label>
        const inner = safeDirs(a);
        if (inner.length) out.push(...inner);
        else out.push(a);
      }
    }
    return out;
  }

  readonly handlers: Handlers = {
    getState: async () => this.state(),
    listTokens: async () => listTokens(this.library),
    enrollParticipant: (a) => this.participants.enroll(a),
    checkIn: (a) => this.participants.checkIn(a),
    checkOut: async (a) => this.participants.checkOut(a.person),
    listScripts: async () => this.scripts.list(this.participants.current),
    dryRunScript: (a) => this.scripts.dryRun(a.packageId, this.participants.require()),
    signScript: (a) => this.scripts.sign(a.packageId, this.participants.require(), a),
    startCeremony: async (a) => {
      if (this.ceremony && !this.ceremony.sealed)
        throw new ConsoleError("not-allowed", `ceremony ${this.ceremony.session.ceremonyId} is still open`);
      const reg = this.participants.require();
      const pkg = this.scripts.load(a.packageId, reg);
      this.ceremony = await CeremonyRun.start(pkg, reg, this.bundlesDir, {
        library: this.library,
        participants: this.participants,
        log: this.log,
        now: this.now,
        operatorPins: this.opts.operatorPins ?? {},
      });
      return this.ceremony.view();
    },
    provideInput: async (a) => {
      const path = this.paths.check(a.path, "an input file");
      return this.run().provideInput({ ...a, path });
    },
    prepareStep: (a) => this.run().prepare(a.stepId),
    approveStep: (a) => this.run().approve(a),
    openShare: (a) => this.run().openShare(a),
    executeStep: (a) => this.run().execute(a.stepId),
    recordException: (a) => this.run().recordException(a),
    finishCeremony: (a) => this.run().finish(a.note),
    cosign: (a) => this.run().cosign(a),
    sealCeremony: () => this.run().seal(),
    dismissCeremony: async () => {
      const c = this.ceremony;
      if (c && !c.sealed)
        throw new ConsoleError("not-allowed", "an unsealed ceremony cannot be dismissed: close and seal it first");
      this.ceremony = undefined;
      return this.state();
    },
    chooseDirectory: async (a) => {
      if (!this.opts.chooseDirectory)
        return { path: null, note: "type the path: the loopback host cannot open a directory chooser" };
      const path = await this.opts.chooseDirectory(a.purpose);
      if (path) this.paths.grant(path);
      return { path, note: null };
    },
    exportBundle: async (a) => {
      const destination = this.paths.check(a.destination, "the export destination");
      return this.run().exportTo(destination);
    },
    verifyBundle: async (a) =>
      verifyView(this.paths.check(a.path, "a bundle to verify"), {
        ...(a.registryHash ? { registryHash: a.registryHash } : {}),
        ...(a.logKeyId ? { logKeyId: a.logKeyId } : {}),
      }),
    getInventory: () => this.inventory.view(),
    requestRevocation: (a) => this.inventory.request(a),
    approveRevocation: (a) => this.inventory.approve(a),
    executeRevocation: (a) => this.inventory.execute(a.requestId),
    cancelRevocation: (a) => this.inventory.cancel(a.requestId),
  };

  async close(): Promise<void> {
    this.ceremony?.abort();
    await this.inventory.close();
  }
}

function safeDirs(dir: string): string[] {
  try {
    return readdirSync(dir)
      .map((n) => join(dir, n))
      .filter((p) => {
        try {
          return statSync(p).isDirectory();
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}
