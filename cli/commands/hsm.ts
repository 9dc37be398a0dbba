// `plantroot hsm`: token and key inspection for plant IT and officers (list, keygen, attributes).
import { parseArgs } from "node:util";
import { DEFAULT_LIBRARY, HsmToken, KEY_SPECS, Pkcs11Module, parseKeySpec, parsePinSource } from "../../hsm/index.js";
import { CliError } from "../cli-error.js";

const HELP = `usage:
  plantroot hsm tokens [--library PATH]
  plantroot hsm keys --token LABEL --pin SOURCE [--library PATH]
  plantroot hsm keygen --token LABEL --pin SOURCE --label KEY --type ${KEY_SPECS.join("|")}
  plantroot hsm attributes --token LABEL --pin SOURCE --key LABEL|PKCS11-URI

SOURCE is file:/path, env:VARIABLE (a literal PIN is accepted only for demos and tests).`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      library: { type: "string", default: process.env.PLANTROOT_PKCS11_LIBRARY ?? DEFAULT_LIBRARY },
      token: { type: "string" },
      pin: { type: "string" },
      label: { type: "string" },
      type: { type: "string" },
      key: { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (!sub || values.help) {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  const open = () => {
    if (!values.token) throw new CliError("--token is required");
    if (!values.pin) throw new CliError("--pin is required (file:/path or env:NAME)");
    return HsmToken.open({ library: values.library, label: values.token, pin: parsePinSource(values.pin) });
  };
  switch (sub) {
    case "tokens": {
      for (const slot of Pkcs11Module.get(values.library).slotsWithToken()) {
        const t = slot.getToken();
        if ((t.flags & 0x400) === 0) continue; // CKF_TOKEN_INITIALIZED: skip SoftHSM's free slot
        console.log(
          `${t.label.trim()}\t${t.manufacturerID.trim()}\t${t.model.trim()}\tserial ${t.serialNumber.trim()}`,
        );
      }
      return 0;
    }
    case "keys": {
      const token = open();
      for (const o of token.listObjects()) console.log(`${o.class}\t${o.label}\tid=${o.id}`);
      return 0;
    }
    case "keygen": {
      if (!values.label || !values.type) throw new CliError("--label and --type are required");
      const key = open().generateKeyPair({ label: values.label, spec: parseKeySpec(values.type) });
      console.log(key.uri);
      console.log(key.publicKey.export({ type: "spki", format: "pem" }).toString().trim());
      return 0;
    }
    case "attributes": {
      if (!values.key) throw new CliError("--key is required");
      console.log(JSON.stringify(open().findKey(values.key).attributes(), null, 2));
      return 0;
    }
    default:
      throw new CliError(`unknown hsm subcommand "${sub}"\n${HELP}`);
  }
}
