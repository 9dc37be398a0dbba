// `plantroot serve --config FILE`: runs the production appliance until SIGINT/SIGTERM; `--check`
// only validates the configuration (exit 0, or the offending field on stderr).
import { parseArgs } from "node:util";
import { jsonLogger } from "../../appliance/log.js";
import { checkServeConfig, serve } from "../../appliance/serve.js";
import { CliError } from "../cli-error.js";
import { untilSignal } from "./demo.js";

const HELP = `usage: plantroot serve --config FILE [--check]

FILE is JSON: dataDir, listen {host, port, httpPort, metrics}, publicUrl, tlsNames, hsm {library,
token, pin: {file}|{env}}, ca (the CA section), validation (the validation section), acme, server.
--check validates the file and exits.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: "string" }, check: { type: "boolean" }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.config) throw new CliError(`--config FILE is required\n${HELP}`);
  if (values.check) {
    checkServeConfig(values.config);
    console.log(`${values.config}: configuration is valid`);
    return 0;
  }
  const log = jsonLogger(process.stdout);
  const stopRequested = untilSignal();
  const appliance = await serve(values.config, log);
  await stopRequested;
  log.info("stopping");
  await appliance.close();
  return 0;
}
