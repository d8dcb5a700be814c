// A process that holds a file's write lock and hangs in it (a synchronous run cannot refresh the lock), for
// fileLockOwnership.test.ts: `node --import tsx holdFileLockChild.ts <file> <hold ms>`; prints "held" once it holds it.
import { withFileLockSync } from "../src/node/fileLock.js";

const [file, hold] = process.argv.slice(2) as [string, string];
const pause = new Int32Array(new SharedArrayBuffer(4));
withFileLockSync(file, () => {
  process.stdout.write("held\n");
  Atomics.wait(pause, 0, 0, Number(hold));
});
process.stdout.write("released\n");
