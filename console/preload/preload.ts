// The preload: exposes exactly one function per ceremony-level command to the renderer, each checking
// its arguments against the command's schema before invoking that command's IPC channel. Never
// exposes ipcRenderer, Node or a generic "invoke"; bundled to one CommonJS file for the sandbox.
import { contextBridge, ipcRenderer } from "electron";
import { COMMANDS, type Command, channelOf } from "../common/channels.js";
import { ARG_SCHEMAS } from "../common/schemas.js";
import type { Result } from "../common/views.js";

function command(c: Command) {
  const channel = channelOf(c);
  const schema = ARG_SCHEMAS[c];
  return async (args: unknown): Promise<Result<unknown>> => {
    const parsed = schema.safeParse(args ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      return {
        ok: false,
        error: { kind: "bad-arguments", message: `${i?.path.join(".") ?? ""}: ${i?.message ?? "?"}` },
      };
    }
    return (await ipcRenderer.invoke(channel, parsed.data)) as Result<unknown>;
  };
}

const api: Record<string, (args: unknown) => Promise<Result<unknown>>> = {};
for (const c of COMMANDS) api[c] = command(c);
contextBridge.exposeInMainWorld("plantroot", Object.freeze(api));
