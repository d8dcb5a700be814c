import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildExplorer } from "../apps/explorer/scripts/buildExplorer.js";
import { buildContracts } from "../contracts/scripts/buildContracts.js";
import { printBuild } from "../contracts/scripts/printBuild.js";

/**
 * `npm run build`: the contracts (from their committed artifacts; solc only when a source changed), the packages
 * (`tsgo -b`), the explorer (when it changed), each step skipped when up to date. With `--no-check`, `npm start`'s
 * build: the same output without the type checks, which `npm run build` and `npm test` then run on their own
 * (tsgo records what it emitted unchecked; the explorer's stamp says its bundle is unchecked).
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const check = !process.argv.includes("--no-check");

async function build(): Promise<boolean> {
  if (!printBuild(await buildContracts({ root: join(root, "contracts") }))) return false;
  const tsgo = spawnSync(
    join(root, "node_modules", ".bin", "tsgo"),
    ["-b", ...(check ? [] : ["--noCheck"])],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  return tsgo.status === 0 && buildExplorer({ check });
}

if (!(await build())) process.exitCode = 1;
