import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** Flushes a directory's entries (a rename in it) to disk; a file system that cannot is left as it is. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync of a directory (EINVAL, EISDIR): the rename is then as durable as they allow.
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `text` as the whole of `file` so that a crash or a power loss leaves either the old file or the new one,
 * never half of one (review of issue 13, LOW-3 and MEDIUM-1): a temporary file of its own (process id and a random
 * part: two processes never share one), flushed to disk, renamed over `file`, the directory flushed. Mode 0600, the
 * directory made with 0700.
 */
export function writeFileDurably(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", 0o600);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  syncDirectory(dir);
}
