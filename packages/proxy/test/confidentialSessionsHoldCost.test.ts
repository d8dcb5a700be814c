import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfidentialSessionsExceededError } from "../src/confidentialErrors.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { ConfidentialSessions } from "../src/gateway/confidentialSessions.js";
import type { KeyRecord } from "../src/keys/keyRecord.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { levelThreePool } from "./helpers/levelThreePool.js";

/**
 * A key squatting level-3 stacks cheaply: it opens sessions with a bound of one unit and holds each until just before
 * its end, then uses one unit (or none). Holding a stack costs `holdUnitsPerMinute` units a minute at the highest
 * price, whatever is used below that: its budget buys a stated number of held minutes and no more. An honest key,
 * sending its request soon after opening and using more than the hold, pays what it used and nothing else.
 */
const dir = mkdtempSync(join(tmpdir(), "atoma-sessions-hold-"));
let opened: OpenedDatabase;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wei per million units (1 unit = 10^6 wei). */
const PRICE = 1_000_000_000_000n;
const TTL_MS = 60_000;
/** The default hold: 6,000 units a minute. A whole session's hold: 6,000 units at `PRICE`. */
const HOLD_WEI = 6_000n * 1_000_000n;

async function setUp(budgetWei: bigint) {
  const keys = new KeyStore(opened.db, Date.now);
  const created = await keys.create({ name: "k", budget: formatEther(budgetWei) });
  const record = (await keys.findByKey(created.key))!;
  const clock = { now: 5_000_000 };
  const ledger = new SpendLedger(opened.db, { sliceIdleMs: 0 });
  const sessions = new ConfidentialSessions(
    {
      upstream: levelThreePool(),
      ledger,
      limiter: new RateLimiter(),
      maxPricePerMillion: () => PRICE,
      now: () => clock.now,
    },
    { maxPerKey: 4, maxPerKeyPerModel: 2, ttlMs: TTL_MS },
  );
  // Charges applied to the key's row once its slice goes back (as at shutdown).
  const spent = async () => {
    await ledger.maintain(0);
    // A fresh store: `findByKey` remembers records for a second.
    return (await new KeyStore(opened.db, Date.now).findByKey(created.key))!.spentWei;
  };
  return { record, clock, sessions, spent };
}

const request = (maxUnits: bigint) => ({
  model: "m",
  endpoint: "chat" as const,
  path: "/v1/chat/completions",
  maxUnits,
  ignore: [],
});

function served(units: bigint) {
  return { units, pricePerMillion: PRICE } as unknown as Parameters<ConfidentialSessions["settle"]>[1];
}

async function openOrError(sessions: ConfidentialSessions, key: KeyRecord, maxUnits: bigint) {
  return sessions.open(key, request(maxUnits)).catch((error: unknown) => error as Error);
}

describe("holding a level-3 stack costs its key", () => {
  it("a squatter using one unit just before each session ends runs out of budget after budget / hold sessions", async () => {
    const { record, clock, sessions, spent } = await setUp(10n * HOLD_WEI);
    let held = 0;
    for (;;) {
      const session = await openOrError(sessions, record, 1n);
      if (session instanceof Error) {
        // Refused for its budget, not its slots: every session it held was settled.
        expect(session).not.toBeInstanceOf(ConfidentialSessionsExceededError);
        break;
      }
      clock.now += TTL_MS - 1;
      await sessions.settle(sessions.take(session.id, record.keyId), served(1n));
      held++;
      expect(held).toBeLessThanOrEqual(10);
    }
    // Each held minute costs its hold less a millisecond's share: ten sessions, and what is left buys no eleventh.
    expect(held).toBe(10);
    const perSession = (HOLD_WEI * BigInt(TTL_MS - 1) + BigInt(TTL_MS) - 1n) / BigInt(TTL_MS);
    expect(await spent()).toBe(10n * perSession);
    await sessions.stop();
  });

  it("a squatter letting its sessions expire unused pays the whole hold for each", async () => {
    const { record, clock, sessions, spent } = await setUp(10n * HOLD_WEI);
    const first = await sessions.open(record, request(1n));
    const second = await sessions.open(record, request(1n));
    clock.now += TTL_MS;
    await sessions.stop();
    expect(first.id).not.toBe(second.id);
    expect(await spent()).toBe(2n * HOLD_WEI);
  });

  // A squatter aborting each sealed stream after its first chunk (no receipt): charged its reservation, held for the
  // leaf; the resend's receipt then says one unit. Settled at that unit alone, holding the stack would cost nothing.
  it("a squatter aborting its sealed streams before their receipts still pays the hold for each", async () => {
    const { record, clock, sessions, spent } = await setUp(100n * HOLD_WEI);
    const charges = new SealedCharges(opened.db);
    const held = (HOLD_WEI * BigInt(TTL_MS - 1) + BigInt(TTL_MS) - 1n) / BigInt(TTL_MS);
    const before = await spent();
    for (let i = 0; i < 3; i++) {
      const session = await sessions.open(record, request(1n));
      clock.now += TTL_MS - 1;
      await sessions.settle(sessions.take(session.id, record.keyId), undefined, true, `0x${"5a".repeat(32)}`);
      const { stackId, nonce } = session.lease;
      // The third leaf is never resent: the stack's settlement says the node was paid one unit for it.
      if (i < 2) await charges.settleByReceipt(stackId, nonce, 1n, true, `0x${"5a".repeat(32)}`);
      else await charges.settleBySettlement(stackId, 1n, undefined);
    }
    expect(await charges.held()).toEqual([]);
    expect((await spent()) - before).toBe(3n * held);
    // What the key paid on each stack (a refund's weight) came down with the give-backs, to the hold.
    const weights = await opened.db
      .selectFrom("stack_charges")
      .select("charged_wei")
      .where("key_id", "=", record.keyId)
      .execute();
    expect(weights.map((row) => BigInt(row.charged_wei))).toEqual([held, held, held]);
    await sessions.stop();
  });

  it("an honest key, requesting soon after opening and using more than the hold, pays exactly what it used", async () => {
    const { record, clock, sessions, spent } = await setUp(100n * HOLD_WEI);
    for (let i = 0; i < 10; i++) {
      const session = await sessions.open(record, request(8_000n));
      clock.now += 500;
      await sessions.settle(sessions.take(session.id, record.keyId), served(5_000n));
    }
    expect(await spent()).toBe(10n * 5_000n * 1_000_000n);
    await sessions.stop();
  });
});
