// How the renderer reaches the main process: the preload's bridge (window.plantroot) in Electron, or
// the loopback host's POST /api/<command> with this launch's token. Same ConsoleApi either way.
import { COMMANDS, type Command, type ConsoleApi } from "../../common/channels.js";
import type { Result } from "../../common/views.js";

export class ApiError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

type Bridge = Record<Command, (args: unknown) => Promise<Result<unknown>>>;

function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new ApiError(r.error.kind, r.error.message);
}

export interface Connection {
  api: ConsoleApi;
  mode: "electron" | "host";
  /** why the console cannot talk to its host, if it cannot */
  problem: string | null;
}

export function connect(): Connection {
  const bridge = (window as unknown as { plantroot?: Bridge }).plantroot;
  const api = {} as Record<Command, (a: unknown) => Promise<unknown>>;
  if (bridge) {
    for (const c of COMMANDS) api[c] = async (a) => unwrap(await bridge[c](a));
    return { api: api as unknown as ConsoleApi, mode: "electron", problem: null };
  }
  // loopback host: the token arrives in the fragment and never leaves this frame's memory
  const m = /[#&]token=([A-Za-z0-9_-]{20,})/.exec(location.hash);
  const token = m?.[1] ?? null;
  if (location.hash) history.replaceState(null, "", location.pathname);
  for (const c of COMMANDS)
    api[c] = async (a) => {
      if (!token) throw new ApiError("forbidden", "this page was opened without the console token");
      let res: Response;
      try {
        res = await fetch(`/api/${c}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(a ?? {}),
          cache: "no-store",
        });
      } catch {
        throw new ApiError("unreachable", "the console host does not answer: was it stopped?");
      }
      let body: Result<unknown>;
      try {
        body = (await res.json()) as Result<unknown>;
      } catch {
        throw new ApiError("unreachable", `the console host answered HTTP ${res.status} without a result`);
      }
      return unwrap(body);
    };
  return {
    api: api as unknown as ConsoleApi,
    mode: "host",
    problem: token
      ? null
      : "This page was opened without the console's launch token. Open the exact address that `npm run console:host` printed (it ends in #token=…).",
  };
}
