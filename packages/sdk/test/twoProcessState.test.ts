import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { fileStateStore } from "../src/node/fileStateStore.js";
import { KeptStacks } from "../src/state/keptStacks.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "atoma-two-process-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Review of issue 13, MEDIUM-1 / LOW-3: two processes of one owner share a `fileStateStore` directory and write one
// stack's state at the same instant (read-modify-write each): every write of both must be kept, no temporary left.
describe("two processes on one fileStateStore directory", () => {
  it("keeps every write of both", async () => {
    const count = 60;
    const startAt = String(Date.now() + 1_500);
    const child = (first: number) =>
      run(process.execPath, [
        "--import",
        "tsx",
        join(import.meta.dirname, "keepSignedChild.ts"),
        dir,
        String(first),
        String(count),
        startAt,
      ]);
    await Promise.all([child(1_000), child(2_000)]);
    const place = {
      chainId: 31_337,
      genesis: `0x${"9e".repeat(32)}`,
      stackManager: `0x${"5a".repeat(20)}`,
      owner: `0x${"0b".repeat(20)}`,
    };
    const state = await new KeptStacks(fileStateStore(dir), place).load(7n);
    expect(state.signed).toHaveLength(2 * count);
    expect(readdirSync(dir).filter((n) => !n.endsWith(".json"))).toEqual([]);
  }, 60_000);
});
