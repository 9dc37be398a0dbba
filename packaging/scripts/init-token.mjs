// Initialises a PKCS#11 token through Plantroot's HSM layer with PINs read from stdin (SO PIN, then
// user PIN, one per line), so they never appear on a command line. Usage: node init-token.mjs LIBRARY LABEL
import { initializeToken } from "../dist/hsm/index.js";

const [library, label] = process.argv.slice(2);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const [soPin, userPin] = input.split("\n");
if (!library || !label || !soPin || !userPin) {
  console.error("usage: printf 'SO-PIN\\nUSER-PIN\\n' | node init-token.mjs LIBRARY LABEL");
  process.exit(2);
}
try {
  initializeToken({ library, label, soPin, userPin });
} catch (e) {
  console.error(`init-token: ${e.message}`);
  process.exit(1);
}
