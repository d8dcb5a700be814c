import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { DatabaseError } from "../errors.js";

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Takes `path` as an exclusive lock holding our pid: two processes on one embedded database would corrupt it.
 * A lock left by a process that no longer runs (killed with SIGKILL) is taken over. Returns the release function.
 */
export function acquireDirLock(path: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isSafeInteger(holder) && holder !== process.pid && isAlive(holder))
        throw new DatabaseError(`the embedded database is in use by process ${holder}`);
      if (holder === process.pid)
        throw new DatabaseError("the embedded database is already open in this process");
      rmSync(path, { force: true });
    }
  }
  throw new DatabaseError("could not lock the embedded database");
}
