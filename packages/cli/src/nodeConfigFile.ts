import { resolve } from "node:path";
import { ConfigError, loadNodeConfig, type NodeConfig } from "@atoma/node";

/** Loads `--config` (and `ATOMA_NODE_*`), printing every problem found before the one-line failure. */
export function loadConfigFile(file: string | undefined): NodeConfig {
  try {
    return loadNodeConfig({ file: file === undefined ? undefined : resolve(file) });
  } catch (error) {
    if (error instanceof ConfigError && error.details) process.stderr.write(`${error.details}\n`);
    throw error;
  }
}

/** JSON with bigints as decimal strings (wei, ids and units exceed 2^53). */
export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}\n`,
  );
}
