import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildContracts } from "./buildContracts.js";
import { printBuild } from "./printBuild.js";

// `npm run build -w @atoma/contracts [-- --force]`: see buildContracts.
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!printBuild(await buildContracts({ root, force: process.argv.includes("--force") })))
  process.exitCode = 1;
