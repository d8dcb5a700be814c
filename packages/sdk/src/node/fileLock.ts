import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { StateFileBusyError } from "../errors.js";

/**
 * A lock not refreshed for this long is taken for one whose holder hung or died: it is taken over. An asynchronous
 * holder refreshes its lock every third of it; a synchronous one (a write of milliseconds) cannot.
 */
const STALE_MS = 30_000;
/** How long a writer waits for a lock before it gives up (`StateFileBusyError`). */
const WAIT_MS = 20_000;

/** How long a lock may go unrefreshed before it is stale (tests shorten it). */
export interface FileLockOptions {
  staleMs?: number;
}

/** The lock file of `file`'s writers (not the `.lock` of `atoma chat`'s stack, which a whole run holds). */
export function writeLockOf(file: string): string {
  return `${file}.writing`;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}

let hostId: string | undefined;
/**
 * Where a pid means the same process: the host's name, its boot (a pid of before a reboot means nothing now) and
 * the pid namespace (a container sharing the folder has pids of its own). A lock of another place is judged by its
 * age only.
 */
export function lockHostId(): string {
  if (hostId === undefined) {
    let namespace = "";
    try {
      namespace = readlinkSync("/proc/self/ns/pid");
    } catch {
      // No /proc (macOS, Windows): the host's name and boot stand for the place.
    }
    const boot = readOr("/proc/sys/kernel/random/boot_id", "");
    hostId = `${hostname()}/${boot}/${namespace}`.replace(/\s+/g, "_");
  }
  return hostId;
}

/** When process `pid` started (clock ticks since boot, Linux); undefined where that cannot be read. */
function startOf(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`, "");
  // Field 22; the command name (field 2) is in parentheses and may hold spaces.
  const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return after.length > 19 ? after[19] : undefined;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** What a lock file says: `pid`, place (`lockHostId`), the pid's start time, the holder's token; one a line. */
interface LockBody {
  pid: number;
  host: string;
  start: string;
  token: string;
}

function parse(text: string): LockBody | undefined {
  const [pid, host, start, token] = text.split("\n");
  const number = Number(pid);
  if (!Number.isSafeInteger(number) || number <= 0 || !host || !start || !token) return undefined;
  return { pid: number, host, start, token };
}

/** Whether the holder of a lock of this place, `body`, is gone (its pid free, or now another process's). */
function holderGone(body: LockBody): boolean {
  if (body.host !== lockHostId()) return false; // its pid means nothing here: only its age tells
  if (!running(body.pid)) return true;
  const start = startOf(body.pid);
  return start !== undefined && start !== body.start;
}

/** A breaker's lock (`breakStale`) older than this is one whose process died mid-break (a break takes milliseconds). */
const BREAK_STALE_MS = 5_000;

/**
 * Removes the lock judged stale (its text `text`, its time `since`), unless it is no longer that lock. Breakers go one at a time, under
 * a lock of their own beside it (`.break`, `O_EXCL`): then nothing but the stale holder itself can change the lock
 * between the check and the removal, and no lock is ever moved aside and put back, so a fourth process can never
 * take the lock in between (review LOW-9: with three or more contenders on a stale lock, two could hold it at once).
 */
function breakStale(lock: string, text: string, since: number): void {
  const breaker = `${lock}.break`;
  try {
    closeSync(openSync(breaker, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    try {
      if (Date.now() - statSync(breaker).mtimeMs >= BREAK_STALE_MS) rmSync(breaker, { force: true });
    } catch {
      // Let go meanwhile.
    }
    return; // another process is breaking it: the next try sees
  }
  try {
    // The very lock judged stale: its text (a token of its own) and its time (a holder's refresh keeps it).
    if (readOr(lock, "") === text.trim() && statSync(lock).mtimeMs === since) rmSync(lock, { force: true });
  } catch {
    // Let go meanwhile: the next try sees.
  } finally {
    rmSync(breaker, { force: true });
  }
}

/**
 * Takes the lock once: its token when taken. A stale lock (holder gone, or not refreshed for `staleMs`) is removed
 * (`breakStale`), and the next try takes it like any other.
 */
function tryLock(lock: string, staleMs: number): string | undefined {
  const token = randomBytes(16).toString("hex");
  try {
    const fd = openSync(lock, "wx", 0o600);
    try {
      writeSync(fd, `${process.pid}\n${lockHostId()}\n${startOf(process.pid) ?? "-"}\n${token}\n`);
    } finally {
      closeSync(fd);
    }
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  let text: string;
  let since: number;
  try {
    text = readFileSync(lock, "utf8");
    since = statSync(lock).mtimeMs;
  } catch {
    return undefined; // let go meanwhile: the next try sees
  }
  const body = parse(text);
  const old = Date.now() - since >= staleMs;
  // A lock being written (no body yet) or of an older version (a pid only) is judged by its age only.
  if (!old && (body === undefined || !holderGone(body))) return undefined;
  breakStale(lock, text, since);
  return undefined;
}

function holds(lock: string, token: string): boolean {
  return parse(readOr(lock, ""))?.token === token;
}

/** Lets go of the lock only while it is still this holder's: one that took it over keeps it. */
function release(lock: string, token: string): void {
  if (holds(lock, token)) rmSync(lock, { force: true });
}

const pause = new Int32Array(new SharedArrayBuffer(4));
const delay = () => 2 + Math.floor(Math.random() * 8);

/**
 * Runs `run` while this process holds `file`'s write lock (an `O_EXCL` lock file beside it naming its holder), so
 * that a read-modify-write of the file by two processes never loses one's change (review of issue 13, MEDIUM-1).
 * Waits (blocking: a write takes milliseconds) for another holder; throws `StateFileBusyError` after `WAIT_MS`.
 */
export function withFileLockSync<T>(file: string, run: () => T, options: FileLockOptions = {}): T {
  const lock = writeLockOf(file);
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const until = Date.now() + WAIT_MS;
  let token = tryLock(lock, options.staleMs ?? STALE_MS);
  while (token === undefined) {
    if (Date.now() > until) throw new StateFileBusyError(file);
    Atomics.wait(pause, 0, 0, delay());
    token = tryLock(lock, options.staleMs ?? STALE_MS);
  }
  try {
    return run();
  } finally {
    release(lock, token);
  }
}

/** `withFileLockSync` for an asynchronous `run`: waits without blocking the process, and keeps its lock fresh. */
export async function withFileLock<T>(
  file: string,
  run: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? STALE_MS;
  const lock = writeLockOf(file);
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const until = Date.now() + WAIT_MS;
  let token = tryLock(lock, staleMs);
  while (token === undefined) {
    if (Date.now() > until) throw new StateFileBusyError(file);
    await new Promise((resolve) => setTimeout(resolve, delay()));
    token = tryLock(lock, staleMs);
  }
  const held = token;
  const refresh = setInterval(() => {
    if (!holds(lock, held)) return;
    const now = new Date();
    try {
      utimesSync(lock, now, now);
    } catch {
      // Gone meanwhile: release sees.
    }
  }, staleMs / 3);
  refresh.unref();
  try {
    return await run();
  } finally {
    clearInterval(refresh);
    release(lock, held);
  }
}
