import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { CliUsageError } from "../errors.js";

/** The lock beside a stack's receipts file: held by one `atoma chat` at a time. */
export function lockFile(receiptsFile: string): string {
  return receiptsFile.replace(/\.json$/, ".lock");
}

/** Whether a process with this id runs (one of another user counts as running). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the stack's lock (review F6): two `atoma chat` runs on one stack at once would both sign at the nonce the node
 * names next, and the one the node refuses with `nonce_reused` would take the honest node for one withholding its
 * receipt (closing the stack, putting the node aside a week). A lock whose process is gone is taken over. Throws
 * `CliUsageError` while another run holds it. Returns the release (also run when this process exits).
 */
export function takeStackLock(receiptsFile: string, stackId: bigint): () => void {
  const file = lockFile(receiptsFile);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && running(holder))
        throw new CliUsageError(
          `stack ${stackId} is in use by another atoma chat (process ${holder}); wait for it to end, or name another --stack`,
        );
      rmSync(file, { force: true });
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off("exit", release);
      rmSync(file, { force: true });
    };
    process.on("exit", release);
    return release;
  }
  throw new CliUsageError(`the lock ${file} of stack ${stackId} could not be taken`);
}
