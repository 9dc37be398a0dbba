// `plantroot demo`: the whole appliance on this machine with demo keys (what `npm start` runs).
// Flags per DESIGN.md; prints `ACME directory: https://HOST:PORT/acme/directory` when ready.
import { parseArgs } from "node:util";
import { runDemo } from "../../appliance/demo.js";
import { jsonLogger } from "../../appliance/log.js";
import { CliError } from "../cli-error.js";

const HELP = `usage: plantroot demo [--data-dir DIR] [--host HOST] [--port N] [--http-port N]
                      [--validation-http-port N] [--validation-tls-port N] [--metrics-port N]

  --data-dir              SoftHSM tokens, demo PKI and database (default ./var/demo)
  --host                  address the listeners bind to and the URLs name (default 127.0.0.1)
  --port                  ACME over HTTPS (default 8443)
  --http-port             CRL, OCSP and CA certificates over plain HTTP (default 8080)
  --validation-http-port  port http-01 validation connects to (default 80)
  --validation-tls-port   port tls-alpn-01 validation connects to (default 443)
  --metrics-port          Prometheus metrics on 127.0.0.1 (default 0: any free port)

DEMO ONLY: keys and PIN sit in the data dir. Use \`plantroot serve --config FILE\` in a plant.`;

function port(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`--${name} must be a port number (0-65535)`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "data-dir": { type: "string", default: "./var/demo" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      "http-port": { type: "string" },
      "validation-http-port": { type: "string" },
      "validation-tls-port": { type: "string" },
      "metrics-port": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const say = (line: string) => process.stderr.write(`plantroot demo: ${line}\n`);
  const stopRequested = untilSignal(); // from the start: a signal during startup stops it cleanly after
  const { appliance, directoryUrl } = await runDemo({
    dataDir: values["data-dir"],
    host: values.host,
    port: port(values.port, "port", 8443),
    httpPort: port(values["http-port"], "http-port", 8080),
    validationHttpPort: port(values["validation-http-port"], "validation-http-port", 80),
    validationTlsPort: port(values["validation-tls-port"], "validation-tls-port", 443),
    metricsPort: port(values["metrics-port"], "metrics-port", 0),
    log: jsonLogger(process.stderr),
    say,
  });
  console.log(`ACME directory: ${directoryUrl}`);
  await stopRequested;
  say("stopping");
  await appliance.close();
  return 0;
}

/** Resolves on SIGINT or SIGTERM. */
export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
