import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { costOfUnits } from "@atoma/core";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { ChargeNotRecordedError, SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { insertIdleStack, keepReceipt, spentWeiOf } from "./helpers/sealedChargeRows.js";

/**
 * Review3 M-3 on the real embedded database: a key charged the whole reservation of a sealed stream with no receipt
 * gets back what the node was not paid, once, whichever way the leaf's price becomes known (its receipt, or the
 * stack's settlement), and the operator is never left with a unit the node was paid and no key charged.
 */
const MAX_UNITS = 2_000n;
const MAX_PRICE = parseEther("10");
const STACK_PRICE = parseEther("1");
const MAX_WEI = costOfUnits(MAX_UNITS, MAX_PRICE);

const dir = mkdtempSync(join(tmpdir(), "atoma-sealed-charges-"));
let opened: OpenedDatabase;
let keys: KeyStore;
let ledger: SpendLedger;
let charges: SealedCharges;
let stackIds = 100n;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
  keys = new KeyStore(opened.db, Date.now);
  ledger = new SpendLedger(opened.db, { sliceIdleMs: 0 });
  charges = new SealedCharges(opened.db);
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A key charged the whole reservation for a sealed stream at `nonce` of `stackId`, held as the gateway does. */
async function chargedInFull(stackId: bigint, nonce: bigint): Promise<string> {
  const { view } = await keys.create({ name: `k${stackId}-${nonce}` });
  const reservation = await ledger.reserve(view.id, MAX_WEI);
  await ledger.settle(reservation, MAX_WEI);
  await charges.hold({
    keyId: view.id,
    stackId,
    nonce,
    maxUnits: MAX_UNITS,
    pricePerMillion: STACK_PRICE,
    chargedWei: MAX_WEI,
  });
  return view.id;
}

const spentOf = (keyId: string) => spentWeiOf(opened.db, keyId);

describe("sealed charges held for a leaf with no receipt (review3 M-3)", () => {
  it("settled by the leaf's receipt: the key pays its units at the stack's price, the rest back, once", async () => {
    const stackId = stackIds++;
    const key = await chargedInFull(stackId, 3n);
    expect(await spentOf(key)).toBe(MAX_WEI);
    const back = await charges.settleByReceipt(stackId, 3n, 120n);
    expect(back).toBe(MAX_WEI - costOfUnits(120n, STACK_PRICE));
    expect(await spentOf(key)).toBe(costOfUnits(120n, STACK_PRICE));
    // The same receipt kept again, or the stack's settlement after it: nothing more comes back.
    expect(await charges.settleByReceipt(stackId, 3n, 120n)).toBe(0n);
    expect(await charges.settleBySettlement(stackId, 0n, undefined)).toBe(0n);
    expect(await spentOf(key)).toBe(costOfUnits(120n, STACK_PRICE));
  });

  it("a node billing the leaf past the bound signed is charged to the key only up to the bound", async () => {
    const stackId = stackIds++;
    const key = await chargedInFull(stackId, 0n);
    expect(await charges.settleByReceipt(stackId, 0n, MAX_UNITS * 5n)).toBe(
      MAX_WEI - costOfUnits(MAX_UNITS, STACK_PRICE),
    );
    expect(await spentOf(key)).toBe(costOfUnits(MAX_UNITS, STACK_PRICE));
  });

  it("never resent: settled at what the settlement paid past the last receipt, in nonce order, each within its bound", async () => {
    const stackId = stackIds++;
    const first = await chargedInFull(stackId, 7n);
    const second = await chargedInFull(stackId, 8n);
    // Below the last receipt's leaf with no accepted receipt around it: its units are inside that receipt's running
    // total, which bounds them (900 units), not its whole bound at the highest price (review 14 L6).
    const hidden = await chargedInFull(stackId, 4n);
    const last = { leafIndex: 6n, cumulativeUnits: 900n };
    // The node was paid 2 300 units past the receipts: the bound of the first, the rest the second's.
    const back = await charges.settleBySettlement(stackId, 900n + 2_300n, last);
    expect(await spentOf(first)).toBe(costOfUnits(MAX_UNITS, STACK_PRICE));
    expect(await spentOf(second)).toBe(costOfUnits(300n, STACK_PRICE));
    expect(await spentOf(hidden)).toBe(costOfUnits(900n, STACK_PRICE));
    // Every unit the node was paid for them is charged to a key, none twice.
    expect(back).toBe(3n * MAX_WEI - costOfUnits(2_300n, STACK_PRICE) - costOfUnits(900n, STACK_PRICE));
    // A watcher's second pass (or another gateway's) finds nothing held.
    expect(await charges.settleBySettlement(stackId, 900n + 2_300n, last)).toBe(0n);
    expect(await charges.held()).toEqual([]);
  });

  it("a settlement that failed or timed out paid the node nothing: the whole charge comes back", async () => {
    const stackId = stackIds++;
    const key = await chargedInFull(stackId, 2n);
    expect(await charges.settleBySettlement(stackId, 0n, undefined)).toBe(MAX_WEI);
    expect(await spentOf(key)).toBe(0n);
  });

  it("one charge per stack and nonce: a second hold of the same leaf is ignored", async () => {
    const stackId = stackIds++;
    const key = await chargedInFull(stackId, 1n);
    await charges.hold({
      keyId: key,
      stackId,
      nonce: 1n,
      maxUnits: MAX_UNITS,
      pricePerMillion: STACK_PRICE,
      chargedWei: MAX_WEI,
    });
    expect((await charges.held()).filter((c) => c.stackId === stackId)).toHaveLength(1);
    await charges.settleByReceipt(stackId, 1n, 0n);
    expect(await spentOf(key)).toBe(0n);
  });
});

/**
 * Review-conf2 M3/L3: the charge goes through the journal (applied up to a second later) while the resend's receipt
 * settles the held charge at once. The give-back must never reach the database before the charge it undoes (a new
 * key would break `spent_wei >= 0`, the refund be rolled back and the key pay the whole bound for good).
 */
describe("a held charge settled before its journaled charge reached the database (review-conf2 M3)", () => {
  it("the journal is flushed first: the key pays exactly the receipt's units", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const journaled = new SpendLedger(opened.db, { journal: flusher });
      const flushing = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      const { view } = await keys.create({ name: `journaled-${stackId}` });
      const reservation = await journaled.reserve(view.id, MAX_WEI);
      await flushing.hold(held(view.id, stackId, 0n));
      await journaled.settle(reservation, MAX_WEI);
      expect(flusher.journal.pendingCount).toBeGreaterThan(0);
      // The resend's receipt comes before the journal is applied.
      await flushing.settleByReceipt(stackId, 0n, 120n);
      await flusher.flush();
      expect(await spentOf(view.id)).toBe(costOfUnits(120n, STACK_PRICE));
      expect((await charges.held()).filter((c) => c.stackId === stackId)).toEqual([]);
    } finally {
      await flusher.stop();
    }
  });

  it("a give-back whose charge is not in the database is refused and the charge kept held, never lost", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const journaled = new SpendLedger(opened.db, { journal: flusher });
      const stackId = stackIds++;
      const { view } = await keys.create({ name: `unflushed-${stackId}` });
      const reservation = await journaled.reserve(view.id, MAX_WEI);
      await charges.hold(held(view.id, stackId, 0n));
      await journaled.settle(reservation, MAX_WEI);
      // No flush hook: the charge is still in the journal only.
      await expect(charges.settleByReceipt(stackId, 0n, 120n)).rejects.toBeInstanceOf(ChargeNotRecordedError);
      expect(await spentOf(view.id)).toBe(0n);
      expect((await charges.held()).filter((c) => c.stackId === stackId)).toHaveLength(1);
      // Once the charge is applied, the stack's settlement settles it (nothing paid: all of it back).
      await flusher.flush();
      expect(await spentOf(view.id)).toBe(MAX_WEI);
      expect(await charges.settleBySettlement(stackId, 0n, undefined)).toBe(MAX_WEI);
      expect(await spentOf(view.id)).toBe(0n);
    } finally {
      await flusher.stop();
    }
  });

  it("a crash between the hold and the charge leaves nobody charged in full: the held row waits for a charge", async () => {
    const stackId = stackIds++;
    const { view } = await keys.create({ name: `crashed-${stackId}` });
    await ledger.reserve(view.id, MAX_WEI);
    await charges.hold(held(view.id, stackId, 0n));
    // The process dies here: no charge. The settlement cannot give back what was never charged.
    await expect(charges.settleBySettlement(stackId, 0n, undefined)).rejects.toBeInstanceOf(
      ChargeNotRecordedError,
    );
    expect(await spentOf(view.id)).toBe(0n);
  });
});

function held(keyId: string, stackId: bigint, nonce: bigint) {
  return { keyId, stackId, nonce, maxUnits: MAX_UNITS, pricePerMillion: STACK_PRICE, chargedWei: MAX_WEI };
}

describe("a held charge at or below the last receipt (review-conf2 M3)", () => {
  it("is settled at its own accepted receipt when one was kept; a refused receipt does not count", async () => {
    const stackId = stackIds++;
    await insertIdleStack(opened.db, stackId, STACK_PRICE);
    const keptAt = (leafIndex: bigint, units: bigint, refused: boolean) =>
      keepReceipt(opened.db, { stackId, leafIndex, units, refused });
    const receipted = await chargedInFull(stackId, 5n);
    const refusedOnly = await chargedInFull(stackId, 4n);
    await keptAt(5n, 120n, false);
    await keptAt(4n, 10n, true);
    await charges.settleBySettlement(stackId, 900n, { leafIndex: 6n, cumulativeUnits: 900n });
    expect(await spentOf(receipted)).toBe(costOfUnits(120n, STACK_PRICE));
    // Its refused receipt's 10 units are not taken: the last accepted running total (900) bounds it (review 14 L6).
    expect(await spentOf(refusedOnly)).toBe(costOfUnits(900n, STACK_PRICE));
  });
});

describe("a held leaf with no receipt of its own below a later receipt", () => {
  // A lazy reading would keep the whole reservation charged: the later receipts prove what the gap cost. Leaf 3 is
  // held (no receipt), leaf 2's receipt says 400 units so far, leaf 4's says 1,000 so far with 100 of its own: leaf 3
  // cost at most 1,000 - 100 - 400 = 500 units, and the key is charged that, not its bound of 2,000.
  it("is charged what the receipts around it prove, each held leaf in the gap within its bound", async () => {
    const stackId = stackIds++;
    await insertIdleStack(opened.db, stackId, STACK_PRICE);
    const keptAt = (leafIndex: bigint, units: bigint, cumulativeUnits: bigint, refused = false) =>
      keepReceipt(opened.db, { stackId, leafIndex, units, cumulativeUnits, refused });
    const inGap = await chargedInFull(stackId, 3n);
    const first = await chargedInFull(stackId, 0n);
    const gapA = await chargedInFull(stackId, 6n);
    const gapB = await chargedInFull(stackId, 7n);
    await keptAt(2n, 150n, 400n);
    await keptAt(4n, 100n, 1_000n);
    // A refused receipt inside a gap proves nothing: leaf 6 and 7 share what leaf 8's receipt proves past leaf 4's.
    await keptAt(6n, 1n, 1_001n, true);
    await keptAt(8n, 50n, 1_000n + 2_500n + 50n);
    await charges.settleBySettlement(stackId, 3_550n, { leafIndex: 8n, cumulativeUnits: 3_550n });
    expect(await spentOf(inGap)).toBe(costOfUnits(500n, STACK_PRICE));
    // Leaf 0 lies below leaf 2's receipt: at most 400 - 150 = 250 units.
    expect(await spentOf(first)).toBe(costOfUnits(250n, STACK_PRICE));
    // 2,500 units between leaf 4 and leaf 8: leaf 6 takes its bound of 2,000, leaf 7 the other 500.
    expect(await spentOf(gapA)).toBe(costOfUnits(2_000n, STACK_PRICE));
    expect(await spentOf(gapB)).toBe(costOfUnits(500n, STACK_PRICE));
  });
});

describe("a refused receipt for a held leaf (review L2)", () => {
  // A hostile node answers the resend with a receipt the gateway refuses (a bad signature, fraud) claiming 1 unit:
  // were it taken as the leaf's word, the key would get nearly its whole charge back for a leaf the node may bill in
  // full. The charge stays held; the stack's settlement (or an accepted receipt) settles it.
  it("gives nothing back and keeps the charge held for the settlement", async () => {
    const stackId = stackIds++;
    const keyId = await chargedInFull(stackId, 2n);
    expect(await charges.settleByReceipt(stackId, 2n, 1n, false)).toBe(0n);
    expect(await spentOf(keyId)).toBe(MAX_WEI);
    expect((await charges.held()).filter((c) => c.stackId === stackId)).toHaveLength(1);
    expect(await charges.settleBySettlement(stackId, 300n, undefined)).toBe(
      MAX_WEI - costOfUnits(300n, STACK_PRICE),
    );
    expect(await spentOf(keyId)).toBe(costOfUnits(300n, STACK_PRICE));
  });
});
