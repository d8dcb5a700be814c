import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { costOfUnits } from "@atoma/core";
import { parseEther } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { spentWeiOf } from "./helpers/sealedChargeRows.js";

/**
 * A gateway killed with SIGKILL around a sealed stream's full charge (review: a crash between holding the charge and
 * recording it). The held leaf and its charge are one journal record applied in one transaction, so after the
 * restart either both are there or neither: a key with earlier spend is never given back a charge it never paid,
 * and nothing is charged twice.
 */
const SCRIPT = fileURLToPath(new URL("./helpers/sealedChargeProcess.ts", import.meta.url));
const MAX_UNITS = 2_000n;
const MAX_WEI = costOfUnits(MAX_UNITS, parseEther("10"));
const STACK_PRICE = parseEther("1");
const EARLIER = 3n * MAX_WEI;
const root = mkdtempSync(join(tmpdir(), "atoma-sealed-crash-"));

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Opens the gateway's database and journal as a restart does: the journal replayed, its own slices given back. */
async function restarted(dir: string) {
  const opened = await openGatewayDatabase({ kind: "embedded", dir: join(dir, "db") });
  const journal = await JournalFlusher.open(opened.db, { dir: join(dir, "journal") });
  const ledger = new SpendLedger(opened.db, { journal, sliceIdleMs: 0 });
  await ledger.recover();
  const spent = (keyId: string) => spentWeiOf(opened.db, keyId);
  const close = async () => {
    await journal.stop();
    await opened.close();
  };
  return { opened, journal, ledger, spent, close };
}

/** A key that already spent `EARLIER` (so a give-back it was never charged for would go through), in `dir`. */
async function keyWithSpend(dir: string): Promise<string> {
  const g = await restarted(dir);
  const { view } = await new KeyStore(g.opened.db, Date.now).create({ name: "victim-or-cheat" });
  const earlier = await g.ledger.reserve(view.id, EARLIER);
  await g.ledger.settle(earlier, EARLIER);
  await g.journal.flush();
  expect(await g.spent(view.id)).toBe(EARLIER);
  await g.close();
  return view.id;
}

/** Runs the sealed step in a child process and kills it with SIGKILL once it printed that it got there. */
function killedAt(dir: string, keyId: string, step: "reserved" | "settled"): Promise<void> {
  const args = {
    dir,
    keyId,
    step,
    stackId: "7",
    maxUnits: String(MAX_UNITS),
    pricePerMillion: String(STACK_PRICE),
    maxWei: String(MAX_WEI),
  };
  const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, JSON.stringify(args)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.once("exit", (code, signal) =>
      signal === "SIGKILL" ? resolve() : reject(new Error(`the process exited (${code ?? signal})`)),
    );
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(`at ${step}\n`)) child.kill("SIGKILL");
    });
  });
}

describe("a gateway killed around a sealed stream's full charge", () => {
  it("killed once the charge is journaled: after the restart the charge and its held leaf are both there, once", async () => {
    const dir = join(root, "settled");
    const keyId = await keyWithSpend(dir);
    await killedAt(dir, keyId, "settled");
    const g = await restarted(dir);
    try {
      await g.journal.flush();
      expect(await g.spent(keyId)).toBe(EARLIER + MAX_WEI);
      const charges = new SealedCharges(g.opened.db, { flush: () => g.journal.flush() });
      expect((await charges.held()).map((c) => [c.keyId, c.chargedWei])).toEqual([[keyId, MAX_WEI]]);
      // The settlement paid the node 300 units of the leaf: the key pays those, once.
      await charges.settleBySettlement(7n, 300n, undefined);
      await charges.settleBySettlement(7n, 300n, undefined);
      expect(await g.spent(keyId)).toBe(EARLIER + costOfUnits(300n, STACK_PRICE));
    } finally {
      await g.close();
    }
  }, 120_000);

  it("killed before the charge: nothing held, nothing charged, and no settlement credits the key", async () => {
    const dir = join(root, "reserved");
    const keyId = await keyWithSpend(dir);
    await killedAt(dir, keyId, "reserved");
    const g = await restarted(dir);
    try {
      await g.journal.flush();
      const charges = new SealedCharges(g.opened.db, { flush: () => g.journal.flush() });
      expect(await charges.held()).toEqual([]);
      expect(await charges.settleBySettlement(7n, 300n, undefined)).toBe(0n);
      expect(await g.spent(keyId)).toBe(EARLIER);
    } finally {
      await g.close();
    }
  }, 120_000);
});
