import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { releaseDanglingReservations } from "../src/accounting/releaseDanglingReservations.js";
import { getStack, listLeaves } from "../src/accounting/stacks.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { DatabaseError, NonceReusedError } from "../src/errors.js";
import { leafFor, NODE_ID } from "./helpers/stacks.js";

const root = mkdtempSync(join(tmpdir(), "atoma-restart-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const child = fileURLToPath(new URL("./fixtures/accountingChild.ts", import.meta.url));

describe("embedded database across processes", () => {
  it("keeps what a process killed with SIGKILL committed, and refuses a second opener while it lives", async () => {
    const dir = join(root, "db");
    const proc = spawn(process.execPath, ["--import", "tsx", child, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
      proc.once("exit", (code) => reject(new Error(`child exited with ${code}: ${stderr.slice(-2000)}`)));
    });
    await expect(openStateDatabase({ kind: "embedded", dir })).rejects.toThrow(DatabaseError);
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGKILL");
    await exited;
    expect(existsSync(`${dir}.lock`)).toBe(true);

    const state = await openStateDatabase({ kind: "embedded", dir });
    try {
      expect(await getStack(state.db, 77n)).toMatchObject({
        unitsUsed: 250n,
        unitsReserved: 300n,
        leafCount: 25n,
      });
      expect(await releaseDanglingReservations(state.db)).toEqual({ reservations: 1, units: 300n });
      const leaves = await listLeaves(state.db, 77n);
      expect(leaves.map((leaf) => leaf.leafIndex)).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(i)));
      expect(leaves[24]?.cumulativeUnits).toBe(250n);
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      await expect(accounting.reserve({ stackId: 77n, units: 1n, nonce: 3n })).rejects.toThrow(
        NonceReusedError,
      );
      // The killed request was never answered: its nonce is the stack's next again.
      const next = await accounting.commit(
        await accounting.reserve({ stackId: 77n, units: 750n, nonce: 25n }),
        leafFor(25, 750n),
      );
      expect(next).toMatchObject({ leafIndex: 25n, cumulativeUnits: 1_000n });
    } finally {
      await state.close();
    }
    expect(existsSync(`${dir}.lock`)).toBe(false);
  });
});
