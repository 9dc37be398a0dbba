// `npm run console:host`: runs the console's main-process service with the loopback host, so the
// renderer works in any Chromium (dry runs on a workstation, Playwright tests). Prints the address.
import "reflect-metadata";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parsePinSource, type PinSource } from "../../hsm/index.js";
import { ConsoleService } from "../main/service.js";
import { buildRenderer, RENDERER_DIR } from "../tools/build.js";
import { startHost } from "./server.js";

const HELP = `usage: npm run console:host -- [options]

  --data-dir DIR           registry, script packages, ceremony bundles (default ./var/console)
  --port N                 loopback port (default: a free one)
  --library PATH           PKCS#11 library (default SoftHSM2; set SOFTHSM2_CONF for its token dir)
  --operator-pin LABEL=SRC PIN source of an operator token, e.g. appliance=file:/run/appliance.pin
  --appliance-db FILE      the appliance's sqlite store (inventory)
  --appliance-config FILE  the appliance's CA configuration (SubCA certificate; needed to revoke)
  --appliance-token LABEL  the appliance token holding the SubCA key (needed to revoke)
  --appliance-pin SRC      its PIN source (file:/path, env:NAME)
  --revocation-quorum EXPR who approves a revocation (default "all(admin) and 2 of officers")
  --media-root DIR         where removable media are mounted (default /media, /run/media)

The console listens on 127.0.0.1 only; every request must carry the token printed below.`;

function pins(list: string[] | undefined): Record<string, PinSource> {
  const out: Record<string, PinSource> = {};
  for (const s of list ?? []) {
    const i = s.indexOf("=");
    if (i <= 0) throw new Error(`--operator-pin expects LABEL=SOURCE, got "${s}"`);
    out[s.slice(0, i)] = parsePinSource(s.slice(i + 1));
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "data-dir": { type: "string", default: "var/console" },
      port: { type: "string", default: "0" },
      library: { type: "string" },
      "operator-pin": { type: "string", multiple: true },
      "appliance-db": { type: "string" },
      "appliance-config": { type: "string" },
      "appliance-token": { type: "string" },
      "appliance-pin": { type: "string" },
      "revocation-quorum": { type: "string" },
      "media-root": { type: "string", multiple: true },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("--port must be 0..65535");
  if (values["appliance-token"] && !values["appliance-pin"]) throw new Error("--appliance-token needs --appliance-pin");
  await buildRenderer();
  const service = new ConsoleService({
    mode: "host",
    dataDir: resolve(values["data-dir"]),
    ...(values.library ? { library: values.library } : {}),
    operatorPins: pins(values["operator-pin"]),
    ...(values["appliance-db"]
      ? {
          appliance: {
            db: resolve(values["appliance-db"]),
            ...(values["appliance-config"] ? { caConfig: resolve(values["appliance-config"]) } : {}),
            ...(values["appliance-token"]
              ? { token: { label: values["appliance-token"], pin: parsePinSource(values["appliance-pin"]!) } }
              : {}),
            ...(values["revocation-quorum"] ? { revocationQuorum: values["revocation-quorum"] } : {}),
          },
        }
      : {}),
    ...(values["media-root"] ? { mediaRoots: values["media-root"].map((p) => resolve(p)) } : {}),
  });
  const host = await startHost({
    handlers: service.handlers,
    rendererDir: RENDERER_DIR,
    port,
    log: (m) => console.error(m),
  });
  console.log("Plantroot console — loopback host (dry-run mode: the same console, in any Chromium)");
  console.log(`data directory: ${service.dataDir}`);
  console.log(`Console: ${host.url}`);
  console.log("Open that address in Chromium on this machine; it carries this launch's token. Ctrl-C stops.");
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await host.close();
    await service.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

main().catch((e: unknown) => {
  console.error(`plantroot console: ${(e as Error).message}`);
  process.exit(1);
});
