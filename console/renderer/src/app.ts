// The renderer's state and its one render loop: which screen is shown, the last state from the main
// process, the operation in progress (with elapsed time), and messages. Every call goes through act(),
// so every failure is shown; focus is kept on the same control across re-renders.
import type { ConsoleApi } from "../../common/channels.js";
import type { ConsoleState, ExportView, InventoryView, VerifyView } from "../../common/views.js";
import { ApiError } from "./api.js";

export type Screen = "officers" | "scripts" | "ceremony" | "evidence" | "inventory";

export interface Flash {
  kind: "error" | "ok" | "info";
  title: string;
  text: string;
  /** the screen it belongs to (cleared when leaving it) */
  screen: Screen;
}

export interface Busy {
  label: string;
  hint: string | null;
  started: number;
}

export interface UiState {
  screen: Screen;
  state: ConsoleState | null;
  inventory: InventoryView | null;
  busy: Busy | null;
  flash: Flash | null;
  selectedStep: string | null;
  /** form field values by form id, then field name (PINs are cleared after use) */
  forms: Record<string, Record<string, string>>;
  lastExport: ExportView | null;
  lastVerify: VerifyView | null;
  fatal: string | null;
}

export class App {
  readonly ui: UiState = {
    screen: "officers",
    state: null,
    inventory: null,
    busy: null,
    flash: null,
    selectedStep: null,
    forms: {},
    lastExport: null,
    lastVerify: null,
    fatal: null,
  };
  private renderFn: () => void = () => undefined;
  private ticker: number | undefined;

  constructor(
    readonly api: ConsoleApi,
    readonly mode: "electron" | "host",
  ) {}

  onRender(fn: () => void): void {
    this.renderFn = fn;
  }

  render(): void {
    const active = document.activeElement as HTMLElement | null;
    const id = active?.id || null;
    this.renderFn();
    if (id) {
      const el = document.getElementById(id);
      if (el && el !== document.activeElement) el.focus({ preventScroll: true });
    }
  }

  field(form: string, name: string, fallback = ""): string {
    return this.ui.forms[form]?.[name] ?? fallback;
  }

  setField(form: string, name: string, value: string): void {
    this.ui.forms[form] ??= {};
    this.ui.forms[form][name] = value;
  }

  clearField(form: string, name: string): void {
    if (this.ui.forms[form]) delete this.ui.forms[form][name];
  }

  go(screen: Screen): void {
    if (this.ui.flash && this.ui.flash.screen !== screen) this.ui.flash = null;
    this.ui.screen = screen;
    this.render();
    document.getElementById("screen-title")?.focus();
    if (screen === "inventory") void this.act("Reading the appliance inventory", async () => this.refreshInventory());
    else void this.act("Refreshing", async () => this.refresh());
  }

  flash(kind: Flash["kind"], title: string, text: string): void {
    this.ui.flash = { kind, title, text, screen: this.ui.screen };
  }

  async refresh(): Promise<void> {
    this.ui.state = await this.api.getState({});
  }

  async refreshInventory(): Promise<void> {
    this.ui.inventory = await this.api.getInventory({});
  }

  /**
   * Runs one operation: shows progress (with elapsed seconds, for slow HSM work), shows any failure
   * with its reason, and re-renders. Returns undefined when it failed.
   */
  async act<T>(
    label: string,
    fn: () => Promise<T>,
    opts: { hint?: string; ok?: (v: T) => string } = {},
  ): Promise<T | undefined> {
    if (this.ui.busy) {
      this.flash("info", "Please wait", `"${this.ui.busy.label}" is still running.`);
      this.render();
      return undefined;
    }
    this.ui.busy = { label, hint: opts.hint ?? null, started: Date.now() };
    this.ui.flash = null;
    this.render();
    this.ticker = window.setInterval(() => this.tick(), 250);
    try {
      const v = await fn();
      if (opts.ok) this.flash("ok", "Done", opts.ok(v));
      return v;
    } catch (e) {
      const kind = e instanceof ApiError ? e.kind : "error";
      const msg = e instanceof Error ? e.message : String(e);
      this.flash("error", failureTitle(kind), msg);
      // what failed may still have changed something (a refused step records why): show the truth
      if (kind !== "unreachable" && kind !== "forbidden") {
        try {
          await this.refresh();
          if (this.ui.screen === "inventory") await this.refreshInventory();
        } catch {
          /* the message above already says what went wrong */
        }
      }
      return undefined;
    } finally {
      window.clearInterval(this.ticker);
      this.ui.busy = null;
      this.render();
      const f = document.getElementById("flash");
      if (f && (this.ui.flash as Flash | null)?.kind === "error") f.focus({ preventScroll: false });
    }
  }

  /** Updates only the elapsed-time text of the progress banner (no full re-render while busy). */
  private tick(): void {
    const b = this.ui.busy;
    const el = document.getElementById("busy-elapsed");
    if (b && el) el.textContent = `${((Date.now() - b.started) / 1000).toFixed(0)} s`;
  }
}

export function failureTitle(kind: string): string {
  switch (kind) {
    case "wrong-pin":
      return "Wrong PIN — nothing was signed";
    case "token-mismatch":
      return "That is not this person's token";
    case "token-not-found":
      return "Token not found";
    case "not-present":
      return "Not checked in";
    case "quorum-not-met":
      return "Approvals missing — the step did not run";
    case "secret-sharing":
      return "Shares missing or wrong";
    case "tbs-mismatch":
      return "The bytes to sign changed — nothing was signed";
    case "check-failed":
      return "A check failed";
    case "bad-arguments":
      return "Please check the form";
    case "unreachable":
      return "The console host does not answer";
    case "forbidden":
      return "Refused";
    default:
      return "The operation failed";
  }
}
