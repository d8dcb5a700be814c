import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { GatewayDatabaseError } from "../errors.js";

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Holds `path` for this process (its pid inside): PGlite corrupts a directory two processes write. A lock whose
 * process is gone (killed) is taken over. Returns the function that lets go.
 */
export function holdLockFile(path: string): () => void {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}`);
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(path, "utf8").trim());
      if (owner === process.pid)
        throw new GatewayDatabaseError("the gateway database is already open in this process");
      if (Number.isSafeInteger(owner) && owner > 0 && running(owner))
        throw new GatewayDatabaseError(
          `the gateway database is in use by process ${owner} (a running gateway: manage its keys with --admin-url)`,
        );
      rmSync(path, { force: true });
    }
  }
  throw new GatewayDatabaseError("could not lock the gateway database");
}
