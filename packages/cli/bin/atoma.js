#!/usr/bin/env node
// npm links this file when the workspace is installed, before `npm run build` has written dist/; it runs the built
// command, or says how to build it.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/main.js", import.meta.url);
if (existsSync(fileURLToPath(main))) {
  await import(main.href);
} else {
  process.stderr.write(
    "atoma: not built yet; run `npm run build` (or `npm start`) at the repository root first\n",
  );
  process.exitCode = 1;
}
