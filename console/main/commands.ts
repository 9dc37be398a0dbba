// The single entry for every command from a renderer, whatever carried it (Electron IPC or the
// loopback host): look the command up, parse its arguments with its schema, run it, map errors once.
import { COMMANDS, type Command } from "../common/channels.js";
import { parseArgs } from "../common/schemas.js";
import type { Result } from "../common/views.js";
import { ConsoleError, toErrorView } from "./errors.js";
import type { Handlers } from "./service.js";

export function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

/**
 * Runs one untrusted command. Commands run one at a time (a second waits): the HSM and the ceremony
 * session are stateful, and officers act in turn anyway.
 */
export function createDispatcher(
  handlers: Handlers,
  log?: (m: string) => void,
): (name: string, raw: unknown) => Promise<Result<unknown>> {
  let queue: Promise<unknown> = Promise.resolve();
  return (name, raw) => {
    const run = async (): Promise<Result<unknown>> => {
      try {
        if (!isCommand(name)) throw new ConsoleError("bad-arguments", `unknown command "${name}"`);
        const args = parseArgs(name, raw ?? {});
        const h = handlers[name] as (a: unknown) => Promise<unknown>;
        return { ok: true, value: await h(args) };
      } catch (e) {
        return { ok: false, error: toErrorView(e, log) };
      }
    };
    const p = queue.then(run, run);
    queue = p;
    return p;
  };
}
