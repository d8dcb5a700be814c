import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lockFile, takeStackLock } from "../src/chat/stackLock.js";
import { CliUsageError } from "../src/errors.js";

// Review F6: two `atoma chat` runs on one stack at once both sign at the nonce the node names next; the one refused
// `nonce_reused` took the honest node for one withholding a receipt (stack closed, node aside a week). One run at a
// time holds the stack.
describe("atoma chat's per-stack lock", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-lock-"));
  const receipts = join(dir, "receipts", "31337-0xabc-5.json");
  let other: ChildProcess | undefined;
  afterAll(() => {
    other?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses the stack while another running process holds it, and takes over a dead one's lock", async () => {
    // Another run (a real process) holds the lock.
    other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    await new Promise((ready) => other!.once("spawn", ready));
    const file = lockFile(receipts);
    expect(file).toBe(join(dir, "receipts", "31337-0xabc-5.lock"));
    takeStackLock(receipts, 5n)();
    writeFileSync(file, `${other.pid}\n`);
    const refused = (() => {
      try {
        takeStackLock(receipts, 5n);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(CliUsageError);
    expect((refused as Error).message).toContain(`process ${other.pid}`);
    expect(readFileSync(file, "utf8").trim()).toBe(String(other.pid));
    // The other run ends (killed, no release): its lock is stale and taken over.
    const exited = new Promise((done) => other!.once("exit", done));
    other.kill("SIGKILL");
    await exited;
    const release = takeStackLock(receipts, 5n);
    expect(readFileSync(file, "utf8").trim()).toBe(String(process.pid));
    release();
    expect(existsSync(file)).toBe(false);
  });
});
