import { buildExplorer } from "./buildExplorer.js";

// `npm run build -w @atoma/explorer [-- --force] [-- --no-check]`: see buildExplorer.
const built = buildExplorer({
  force: process.argv.includes("--force"),
  check: !process.argv.includes("--no-check"),
});
if (!built) process.exitCode = 1;
