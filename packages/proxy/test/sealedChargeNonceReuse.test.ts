import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { costOfUnits, requestHash } from "@atoma/core";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { insertIdleStack, keepReceipt, spentWeiOf } from "./helpers/sealedChargeRows.js";

/**
 * Review s5 M2 on the real embedded database. Sealed request S1 streams at nonce k and its node dies before it
 * commits: S1's key is charged in full and the charge held for (stack, k). S1's deadline passes, the nonce is given
 * up, and another key's sealed request S2 is signed at k. S2's receipt for leaf k must not settle S1's hold at S2's
 * units: it proves S1 was never served at k, so S1's key gets its whole charge back.
 */
const MAX_UNITS = 2_000n;
const MAX_PRICE = parseEther("10");
const STACK_PRICE = parseEther("1");
const MAX_WEI = costOfUnits(MAX_UNITS, MAX_PRICE);
const S1 = requestHash({ sealed: "s1" });
const S2 = requestHash({ sealed: "s2" });

const dir = mkdtempSync(join(tmpdir(), "atoma-sealed-reuse-"));
let opened: OpenedDatabase;
let keys: KeyStore;
let stackIds = 500n;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
  keys = new KeyStore(opened.db, Date.now);
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

const spentOf = (keyId: string) => spentWeiOf(opened.db, keyId);

/** S1 charged in full with its hold, journaled as the gateway writes it (one charge record), then applied. */
async function heldThroughJournal(flusher: JournalFlusher, stackId: bigint, nonce: bigint, floorWei = 0n) {
  const ledger = new SpendLedger(opened.db, { journal: flusher });
  const { view } = await keys.create({ name: `s1-${stackId}` });
  const reservation = await ledger.reserve(view.id, MAX_WEI);
  await ledger.settle(reservation, MAX_WEI, undefined, {
    stackId,
    nonce,
    maxUnits: MAX_UNITS,
    pricePerMillion: STACK_PRICE,
    reqHash: S1,
    floorWei,
  });
  await flusher.flush();
  return view.id;
}

describe("a held sealed charge whose nonce is reused by another request (review s5 M2)", () => {
  it("the other request's receipt at that leaf gives the held charge back whole", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      const s1Key = await heldThroughJournal(flusher, stackId, 7n);
      expect(await spentOf(s1Key)).toBe(MAX_WEI);
      expect((await charges.held()).find((c) => c.stackId === stackId)?.reqHash).toBe(S1);
      // S2's accepted receipt for leaf 7, 1,500 units: S1's key pays none of them.
      expect(await charges.settleByReceipt(stackId, 7n, 1_500n, true, S2)).toBe(MAX_WEI);
      expect(await spentOf(s1Key)).toBe(0n);
      // Nothing is left held for the settlement to bill again.
      expect(await charges.settleBySettlement(stackId, 5_000n, undefined)).toBe(0n);
      expect(await spentOf(s1Key)).toBe(0n);
    } finally {
      await flusher.stop();
    }
  });

  it("review L1: with a session's hold, the other request's receipt gives back all but that hold", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      const floor = MAX_WEI / 10n;
      const s1Key = await heldThroughJournal(flusher, stackId, 7n, floor);
      // S1's session held the stack: it pays that hold, none of S2's 1,500 units.
      expect(await charges.settleByReceipt(stackId, 7n, 1_500n, true, S2)).toBe(MAX_WEI - floor);
      expect(await spentOf(s1Key)).toBe(floor);
    } finally {
      await flusher.stop();
    }
  });

  it("the held request's own receipt still settles it at its units", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      const s1Key = await heldThroughJournal(flusher, stackId, 3n);
      // The hash as the node writes it (any case) is the same request.
      expect(
        await charges.settleByReceipt(stackId, 3n, 120n, true, S1.toUpperCase().replace("0X", "0x")),
      ).toBe(MAX_WEI - costOfUnits(120n, STACK_PRICE));
      expect(await spentOf(s1Key)).toBe(costOfUnits(120n, STACK_PRICE));
    } finally {
      await flusher.stop();
    }
  });

  it("settled by the settlement: another request's kept receipt at that leaf bills the held one nothing", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      await insertIdleStack(opened.db, stackId, STACK_PRICE);
      const s1Key = await heldThroughJournal(flusher, stackId, 4n);
      // S2 was signed afresh at leaf 4 (not a resend): its receipt was kept, not matched against the hold.
      await keepReceipt(opened.db, {
        stackId,
        leafIndex: 4n,
        reqHash: S2,
        units: 1_500n,
        cumulativeUnits: 1_500n,
      });
      expect(
        await charges.settleBySettlement(stackId, 1_500n, { leafIndex: 4n, cumulativeUnits: 1_500n }),
      ).toBe(MAX_WEI);
      expect(await spentOf(s1Key)).toBe(0n);
    } finally {
      await flusher.stop();
    }
  });
});

describe("a resend's receipt kept before its sealed hold is recorded (review s5 L3)", () => {
  // `release()` wakes a waiter before the route records the sealed hold: the waiter resends leaf k, its receipt is
  // kept and `settleByReceipt` finds nothing held yet. The hold lands afterwards; the stack's settlement then bills it
  // at that kept receipt's units, not its whole bound, and a receipt kept for the same request counts (its hash).
  it("is settled at the kept receipt's units when the settlement comes", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      await insertIdleStack(opened.db, stackId, STACK_PRICE);
      await keepReceipt(opened.db, {
        stackId,
        leafIndex: 2n,
        reqHash: S1,
        units: 120n,
        cumulativeUnits: 120n,
      });
      // The resend's receipt came first: nothing was held to settle.
      expect(await charges.settleByReceipt(stackId, 2n, 120n, true, S1)).toBe(0n);
      const s1Key = await heldThroughJournal(flusher, stackId, 2n);
      expect(await spentOf(s1Key)).toBe(MAX_WEI);
      expect(await charges.settleBySettlement(stackId, 120n, { leafIndex: 2n, cumulativeUnits: 120n })).toBe(
        MAX_WEI - costOfUnits(120n, STACK_PRICE),
      );
      expect(await spentOf(s1Key)).toBe(costOfUnits(120n, STACK_PRICE));
    } finally {
      await flusher.stop();
    }
  });
});

describe("a held charge inside the last receipt's total with no accepted receipt at or after it (review 14 L6)", () => {
  // The last receipt is missing from the kept ones (refused, or never stored): the row used to be deleted with
  // nothing given back, its key charged its whole bound for good.
  it("is billed at most what the last receipt's running total proves, the rest given back", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 60_000, maxDelayMs: 60_000 });
    try {
      const charges = new SealedCharges(opened.db, { flush: () => flusher.flush() });
      const stackId = stackIds++;
      await insertIdleStack(opened.db, stackId, STACK_PRICE);
      const s1Key = await heldThroughJournal(flusher, stackId, 5n);
      expect(await spentOf(s1Key)).toBe(MAX_WEI);
      const back = await charges.settleBySettlement(stackId, 300n, { leafIndex: 5n, cumulativeUnits: 300n });
      expect(back).toBe(MAX_WEI - costOfUnits(300n, STACK_PRICE));
      expect(await spentOf(s1Key)).toBe(costOfUnits(300n, STACK_PRICE));
      expect((await charges.held()).some((c) => c.stackId === stackId)).toBe(false);
    } finally {
      await flusher.stop();
    }
  });
});
