// One of several processes contending for a file's write lock, for fileLockOwnership.test.ts (review LOW-9):
// `node --import tsx contendFileLockChild.ts <file> <rounds> <startAt ms>`. Each round it takes the lock, checks no
// one else is inside (an `O_EXCL` marker), and three rounds in four it "dies" holding it: it leaves its lock behind under a
// gone pid, so the others all find a stale lock and break it at once. Prints how many times it found another inside.
import { randomBytes } from "node:crypto";
import { closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import { lockHostId, withFileLockSync, writeLockOf } from "../src/node/fileLock.js";

const [file, rounds, startAt] = process.argv.slice(2) as [string, string, string];
const pause = new Int32Array(new SharedArrayBuffer(4));
Atomics.wait(pause, 0, 0, Math.max(0, Number(startAt) - Date.now()));
let overlaps = 0;
for (let round = 0; round < Number(rounds); round++) {
  withFileLockSync(file, () => {
    const inside = `${file}.inside`;
    try {
      closeSync(openSync(inside, "wx"));
    } catch {
      overlaps++;
      return;
    }
    Atomics.wait(pause, 0, 0, 1);
    rmSync(inside, { force: true });
    // Dies holding it (a pid no process here has): its lock stays, stale at once.
    if (round % 4 !== 3)
      writeFileSync(writeLockOf(file), `4194303\n${lockHostId()}\n1\n${randomBytes(16).toString("hex")}\n`);
  });
}
process.stdout.write(`${overlaps}\n`);
