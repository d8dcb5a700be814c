import { readFileSync, statSync } from "node:fs";
import type { Collateral } from "@atoma/confidential";
import type { Logger } from "@atoma/core";
import { ConfigError } from "../errors.js";

/** The collateral file read as JSON; `ConfigError` when it cannot be read or parsed. */
export function readCollateral(path: string): Collateral {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(`confidential.collateralFile: ${path} cannot be read`);
  }
  try {
    return JSON.parse(text) as Collateral;
  } catch {
    throw new ConfigError(`confidential.collateralFile: ${path} is not JSON`);
  }
}

const versionOf = (path: string): string => {
  const stat = statSync(path);
  return `${stat.mtimeMs}:${stat.size}`;
};

/**
 * Intel's collateral as the file holds it now: read at start (a missing or malformed file is a `ConfigError`), then
 * read again whenever the file changes (its mtime or size), so that a job refreshing it from a PCCS (daily: clients
 * refuse collateral older than a week, `attestation_collateral_stale`) is taken without a restart. A refreshed file
 * that does not parse is logged and the last good one kept, so a half-written file never breaks quoting.
 */
export function collateralFile(path: string, logger: Logger): () => Promise<Collateral> {
  let current = readCollateral(path);
  let version = versionOf(path);
  return async () => {
    let now: string;
    try {
      now = versionOf(path);
    } catch {
      logger.warn({ path }, "the collateral file is gone: the last one read is served");
      return current;
    }
    if (now === version) return current;
    try {
      current = readCollateral(path);
      version = now;
      logger.info({ path }, "read the refreshed collateral file");
    } catch (error) {
      logger.warn(
        { path, code: (error as ConfigError).code },
        "the refreshed collateral file does not parse: the last one read is served",
      );
    }
    return current;
  };
}
