// The `plantroot` command line: parses the first word and hands the rest to one command module.
// Owns no business logic; each command calls into the component that owns the behaviour.
import "reflect-metadata";
import { CliError } from "./cli-error.js";

interface Command {
  summary: string;
  load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}

const commands: Record<string, Command> = {
  audit: {
    summary: "verify the audit chain and its signed checkpoints offline",
    load: () => import("./commands/audit.js"),
  },
  ceremony: { summary: "key ceremonies: enroll, dry-run, run, verify", load: () => import("./commands/ceremony.js") },
  demo: {
    summary: "run the whole appliance locally with demo keys (what npm start runs)",
    load: () => import("./commands/demo.js"),
  },
  serve: {
    summary: "run the appliance from a configuration file (production)",
    load: () => import("./commands/serve.js"),
  },
  eab: {
    summary: "External Account Binding credentials: create, list, revoke",
    load: () => import("./commands/eab.js"),
  },
  hsm: {
    summary: "list tokens and keys, generate a key, show key attributes",
    load: () => import("./commands/hsm.js"),
  },
  status: {
    summary: "CA certificates and expiry, HSM, database, last CRL",
    load: () => import("./commands/status.js"),
  },
  backup: {
    summary: "consistent online backup of the database and configuration",
    load: () => import("./commands/backup.js"),
  },
  restore: { summary: "restore a backup (appliance stopped)", load: () => import("./commands/restore.js") },
  migrate: { summary: "apply pending database schema migrations", load: () => import("./commands/migrate.js") },
  config: { summary: "config check: validate the configuration file", load: () => import("./commands/config.js") },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: plantroot <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nplantroot <command> --help shows a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "version") {
    const { readFileSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    console.log(pkg.version);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`plantroot: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      console.error(`plantroot: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      const e = err as Error & { kind?: string };
      // typed component errors carry a kind and a safe message; anything else is a bug
      console.error(e.kind ? `plantroot: ${e.message}` : `plantroot: internal error: ${e.stack ?? e}`);
      process.exitCode = 1;
    }
  },
);
