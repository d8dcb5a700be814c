import { createHash, randomUUID } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SqliteSynchronous } from "./openSqlite.js";

/**
 * A file in the database directory that says a node process is running on it: written (durably) once the node has
 * recovered its state, removed when the database is closed cleanly. Found at start, it means the previous process
 * did not stop cleanly. It records the machine's boot id: a process killed on a running machine (kill -9, a crash)
 * loses no commit, since each is in the operating system's cache, but a new boot means the machine went down
 * (a power cut, a kernel panic) and, under `synchronous = normal`, commits whose sync had not finished may be gone.
 *
 * A boot id alone is not enough where a machine's memory is restored from a snapshot (its boot id is the
 * snapshot's): the marker also holds a random run id, mirrored in a file in memory (`/dev/shm`, or `/run`), which
 * a restored machine does not have. A start counts as "nothing lost" only when both match. Where no such memory
 * file system exists, the boot id decides alone (docs/node-hot-path.md). A marker whose run saw a sync fail is
 * rewritten as lost (`markLost`): its commits may be gone whatever the boot.
 */
export const RUNNING_MARKER = "running.json";

const BOOT_ID = "/proc/sys/kernel/random/boot_id";

interface Marker {
  bootId: string | null;
  synchronous: SqliteSynchronous;
  /** Mirrored in memory (`runFile`); absent where no memory file system could be written. */
  runId?: string;
}

/** Memory-backed file systems: gone at each boot, and not part of a disk image. */
const MEMORY_DIRS = ["/dev/shm", "/run"];

/** This boot's id (Linux), or undefined where the system does not give one. */
export function currentBootId(): string | undefined {
  try {
    return readFileSync(BOOT_ID, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when the previous process on `dir` stopped uncleanly and commits it acknowledged may be lost: it ran under
 * `synchronous = normal` and the machine has booted since (or the boot cannot be told: no boot id, a marker left
 * half-written by the cut). A process killed on the same boot, or one that ran under `full`, lost nothing.
 */
export function mayHaveLostCommits(dir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(dir, RUNNING_MARKER), "utf8");
  } catch {
    return false; // stopped cleanly, or never ran
  }
  let marker: Partial<Marker>;
  try {
    marker = JSON.parse(text) as Partial<Marker>;
  } catch {
    return true;
  }
  if (marker.synchronous === "full") return false;
  const boot = currentBootId();
  if (boot === undefined || marker.bootId !== boot) return true;
  return marker.runId !== undefined && readRunId(dir) !== marker.runId;
}

/** Writes the marker and syncs it and its directory entry, so a power cut cannot leave the node without one. */
export function markRunning(dir: string, synchronous: SqliteSynchronous): void {
  const runId = writeRunId(dir, randomUUID());
  writeMarker(dir, { bootId: currentBootId() ?? null, synchronous, ...(runId ? { runId } : {}) });
}

/** A sync failed: whatever the next boot, the next start must treat acknowledged commits as possibly lost. */
export function markLost(dir: string): void {
  forgetRunId(dir); // first: it holds even if the disk no longer takes the marker
  writeMarker(dir, { bootId: null, synchronous: "normal" });
}

function writeMarker(dir: string, marker: Marker): void {
  const path = join(dir, RUNNING_MARKER);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, JSON.stringify(marker));
  syncPath(temporary, "r+");
  renameSync(temporary, path);
  syncPath(dir, "r");
}

/** Removes the marker once the database is closed (every commit on disk). */
export function markStopped(dir: string): void {
  rmSync(join(dir, RUNNING_MARKER), { force: true });
  syncPath(dir, "r");
  forgetRunId(dir);
}

function forgetRunId(dir: string): void {
  for (const memory of MEMORY_DIRS)
    try {
      rmSync(runFile(memory, dir), { force: true });
    } catch {
      // not writable there: never written there either
    }
}

/** The in-memory file that mirrors `dir`'s run id, one per database directory. */
export function runFile(memory: string, dir: string): string {
  const key = createHash("sha256").update(resolve(dir)).digest("hex").slice(0, 16);
  return join(memory, `atoma-node-run-${key}`);
}

function writeRunId(dir: string, runId: string): string | undefined {
  for (const memory of MEMORY_DIRS) {
    try {
      writeFileSync(runFile(memory, dir), runId, { mode: 0o600 });
      return runId;
    } catch {
      // not there, or not writable: the next one
    }
  }
  return undefined;
}

function readRunId(dir: string): string | undefined {
  for (const memory of MEMORY_DIRS) {
    try {
      return readFileSync(runFile(memory, dir), "utf8");
    } catch {
      // the next one
    }
  }
  return undefined;
}

function syncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
