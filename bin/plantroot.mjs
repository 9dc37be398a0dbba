#!/usr/bin/env node
// The `plantroot` command. Runs the compiled CLI (dist/) when present — the appliance package ships
// only JavaScript — and the TypeScript sources through tsx in a development checkout.
import { existsSync } from "node:fs";

const dist = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../cli/main.ts", import.meta.url).href);
}
