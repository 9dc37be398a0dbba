// The ceremony-level commands between renderer and main process: one name per IPC channel (and per
// loopback-host route), with the result type of each. No "sign these bytes" command exists. Types only.
import type {
  CeremonyView,
  ConsoleState,
  ExportView,
  InventoryView,
  RegistryView,
  Role,
  ScriptPackageView,
  TokenView,
  VerifyView,
} from "./views.js";

/** The IPC channel of a command is `plantroot:<name>`; the loopback host's route is `/api/<name>`. */
export const CHANNEL_PREFIX = "plantroot:";

export const COMMANDS = [
  "getState",
  "listTokens",
  "enrollParticipant",
  "checkIn",
  "checkOut",
  "listScripts",
  "dryRunScript",
  "signScript",
  "startCeremony",
  "provideInput",
  "prepareStep",
  "approveStep",
  "openShare",
  "executeStep",
  "recordException",
  "finishCeremony",
  "cosign",
  "sealCeremony",
  "dismissCeremony",
  "chooseDirectory",
  "exportBundle",
  "verifyBundle",
  "getInventory",
  "requestRevocation",
  "approveRevocation",
  "executeRevocation",
  "cancelRevocation",
] as const;
export type Command = (typeof COMMANDS)[number];

/** A token and the PIN typed for it: the main process opens the token, signs there, closes it. */
export interface TokenPin {
  tokenLabel: string;
  pin: string;
}

export interface Args {
  getState: Record<string, never>;
  listTokens: Record<string, never>;
  enrollParticipant: TokenPin & { id: string; name: string; roles: Role[]; registryName?: string };
  checkIn: TokenPin & { person: string };
  checkOut: { person: string };
  listScripts: Record<string, never>;
  dryRunScript: { packageId: string };
  signScript: TokenPin & { packageId: string; person: string };
  startCeremony: { packageId: string };
  provideInput: { name: string; person: string; path: string };
  prepareStep: { stepId: string };
  approveStep: TokenPin & { stepId: string; person: string; role: Role };
  openShare: TokenPin & { stepId: string; person: string };
  executeStep: { stepId: string };
  recordException: TokenPin & { stepId: string; person: string; note: string };
  finishCeremony: { note: string };
  cosign: TokenPin & { person: string; role: "witness" | "auditor" };
  sealCeremony: Record<string, never>;
  dismissCeremony: Record<string, never>;
  chooseDirectory: { purpose: "export" | "verify" | "input" };
  exportBundle: { destination: string };
  verifyBundle: { path: string; registryHash?: string; logKeyId?: string };
  getInventory: Record<string, never>;
  requestRevocation: { serial: string; reason: string };
  approveRevocation: TokenPin & { requestId: string; person: string; role: Role };
  executeRevocation: { requestId: string };
  cancelRevocation: { requestId: string };
}

export type ApprovalOutcome =
  | { accepted: true; ceremony: CeremonyView }
  | { accepted: false; reason: string; detail: string; ceremony: CeremonyView };

export interface Results {
  getState: ConsoleState;
  listTokens: TokenView[];
  enrollParticipant: RegistryView;
  checkIn: RegistryView;
  checkOut: RegistryView;
  listScripts: ScriptPackageView[];
  dryRunScript: ScriptPackageView;
  signScript: ScriptPackageView;
  startCeremony: CeremonyView;
  provideInput: CeremonyView;
  prepareStep: CeremonyView;
  approveStep: ApprovalOutcome;
  openShare: CeremonyView;
  executeStep: CeremonyView;
  recordException: CeremonyView;
  finishCeremony: CeremonyView;
  cosign: CeremonyView;
  sealCeremony: CeremonyView;
  dismissCeremony: ConsoleState;
  chooseDirectory: { path: string | null; note: string | null };
  exportBundle: ExportView;
  verifyBundle: VerifyView;
  getInventory: InventoryView;
  requestRevocation: InventoryView;
  approveRevocation: InventoryView;
  executeRevocation: InventoryView;
  cancelRevocation: InventoryView;
}

/** What the renderer calls: the preload's bridge in Electron, an HTTP client against the loopback host. */
export type ConsoleApi = { [C in Command]: (args: Args[C]) => Promise<Results[C]> };

export function channelOf(c: Command): string {
  return `${CHANNEL_PREFIX}${c}`;
}
