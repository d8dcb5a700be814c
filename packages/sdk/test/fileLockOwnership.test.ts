import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lockHostId, withFileLock, writeLockOf } from "../src/node/fileLock.js";

const dir = mkdtempSync(join(tmpdir(), "atoma-file-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pid that no process here has (the highest a Linux kernel hands out is below this). */
const deadPid = 4_194_303;

// Review of issue 13 (second review, E): a lock's holder is judged by more than a local pid, and a holder lets go
// only of its own lock.
describe("fileLock ownership and staleness", () => {
  it("does not take a fresh lock of a process on another host (its pid means nothing here)", async () => {
    const file = join(dir, "other-host.json");
    const lock = writeLockOf(file);
    writeFileSync(lock, `${deadPid}\nother-host/boot-1/pidns-1\n123\n${"ab".repeat(16)}\n`);
    let ran = false;
    const taking = withFileLock(file, async () => {
      ran = true;
    });
    await sleep(600);
    expect(ran).toBe(false);
    rmSync(lock); // the other host lets go
    await taking;
    expect(ran).toBe(true);
    expect(existsSync(lock)).toBe(false);
  });

  it("takes a lock of this host whose pid now belongs to another process (pid reused)", async () => {
    const file = join(dir, "reused-pid.json");
    const lock = writeLockOf(file);
    // This very process's pid, but a start time it never had: the holder died and its pid was handed out again.
    writeFileSync(lock, `${process.pid}\n${lockHostId()}\n1\n${"cd".repeat(16)}\n`);
    let ran = false;
    await withFileLock(file, async () => {
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it("a hung holder that wakes after its lock was taken over does not remove the new holder's lock", async () => {
    const file = join(dir, "taken-over.json");
    const lock = writeLockOf(file);
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      join(import.meta.dirname, "holdFileLockChild.ts"),
      file,
      "2500",
    ]);
    let out = "";
    child.stdout.on("data", (d) => {
      out += String(d);
    });
    const exited = new Promise<number | null>((r) => child.on("exit", r));
    while (!out.includes("held")) await sleep(20);
    // The child hangs past the staleness limit (its lock looks a minute old): another process takes it over.
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const mine = await withFileLock(file, async () => {
      const body = readFileSync(lock, "utf8");
      expect(body.split("\n")[0]).toBe(String(process.pid));
      expect(await exited).toBe(0); // the hung child wakes, ends its run and lets go of "its" lock
      expect(out).toContain("released");
      return readFileSync(lock, "utf8"); // still there: still this process's
    });
    expect(mine.split("\n")[0]).toBe(String(process.pid));
    expect(existsSync(lock)).toBe(false);
  }, 30_000);

  it("a long asynchronous holder keeps its lock fresh, so no one takes it over", async () => {
    const file = join(dir, "long-holder.json");
    const lock = writeLockOf(file);
    await withFileLock(
      file,
      async () => {
        await sleep(1_200);
        // Refreshed while held (every third of the staleness limit, here shortened): never older than the limit.
        expect(Date.now() - statSync(lock).mtimeMs).toBeLessThan(900);
      },
      { staleMs: 900 },
    );
  });

  it("LOW-9: ten processes breaking stale locks at once never hold the lock two at a time", async () => {
    const file = join(dir, "contended.json");
    const startAt = String(Date.now() + 3_000);
    const counts = await Promise.all(
      Array.from({ length: 10 }, () => {
        const child = spawn(process.execPath, [
          "--import",
          "tsx",
          join(import.meta.dirname, "contendFileLockChild.ts"),
          file,
          "200",
          startAt,
        ]);
        let out = "";
        child.stdout.on("data", (d) => {
          out += String(d);
        });
        child.stderr.on("data", (d) => {
          out += String(d);
        });
        return new Promise<string>((resolve) => child.on("exit", () => resolve(out.trim())));
      }),
    );
    expect(counts).toEqual(Array.from({ length: 10 }, () => "0"));
  }, 60_000);
});
