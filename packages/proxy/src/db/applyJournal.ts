import { sql, type Transaction } from "kysely";
import { type ClampedGiveBack, supersedeHeld } from "../limits/sealedCharges.js";
import { lockStackCharges } from "../refunds/stackChargesLock.js";
import type { ChargeRecord, JournalRecord, ReceiptRecord, SignedRecord } from "./journal.js";
import type { GatewayDb } from "./openGatewayDatabase.js";
import type { GatewayDatabase } from "./schema.js";

/** What a batch's `stack` and `signed` records leave a stack at: the greatest of each (absent: untouched). */
interface StackProgress {
  unitsUsed?: bigint;
  nextNonce?: bigint;
  lastUsedMs?: number;
  signedBelow?: bigint;
  signedMaxUnits?: bigint;
}

/** A slice's charges in a batch, added up. */
interface SliceCharges {
  keyId: string;
  records: number;
  costWei: bigint;
}

/** What a batch served one key, of one model, on one day. */
interface UsageSum {
  keyId: string;
  model: string;
  day: string;
  requests: number;
  tokens: bigint;
  spendWei: bigint;
}

const max = <T extends bigint | number>(a: T | undefined, b: T): T => (a === undefined || b > a ? b : a);

/**
 * Applies one journal record (alone, where no journal is kept); `false` when it was a charge on a slice already
 * swept. Run it in a transaction.
 */
export async function applyJournalRecord(db: GatewayDb, record: JournalRecord): Promise<boolean> {
  return (await applyJournalBatch(db, [record])) === 0;
}

/**
 * Applies journal records in a few statements, whatever their number: receipts in one insert, each stack's
 * progress and signed nonces in one update (greatest wins, so applying twice changes nothing), each slice's
 * charges added up (the cost leaves the slice, never below zero, as one by one; a slice already swept is charged
 * only past what the sweep charged), and the usage per key, model and day added up. Charges and usage count as often as
 * they are applied, which the journal position makes once. Returns how many charges found their slice swept. Run
 * it in a transaction. `onClamped` hears of a superseded hold's give-back the key's spend could not hold whole.
 */
export async function applyJournalBatch(
  db: GatewayDb,
  records: readonly JournalRecord[],
  onClamped?: (loss: ClampedGiveBack) => void,
): Promise<number> {
  const receipts = new Map<string, ReceiptRecord>();
  const signed = new Map<string, SignedRecord>();
  const stacks = new Map<string, StackProgress>();
  const slices = new Map<string, SliceCharges>();
  const usage = new Map<string, UsageSum>();
  const holds: ChargeRecord[] = [];
  const stackCharges = new Map<string, { stackId: string; keyId: string; costWei: bigint }>();
  for (const record of records)
    switch (record.kind) {
      case "receipt": {
        const { stackId = "0", leafIndex = "0", signature = "" } = record.receipt;
        const id = `${stackId}:${leafIndex}:${signature}`;
        if (!receipts.has(id)) receipts.set(id, record);
        break;
      }
      case "stack": {
        const progress = stacks.get(record.stackId) ?? {};
        progress.unitsUsed = max(progress.unitsUsed, BigInt(record.unitsUsed));
        progress.nextNonce = max(progress.nextNonce, BigInt(record.nextNonce));
        progress.lastUsedMs = max(progress.lastUsedMs, record.atMs);
        stacks.set(record.stackId, progress);
        break;
      }
      case "signed": {
        const progress = stacks.get(record.stackId) ?? {};
        progress.signedBelow = max(progress.signedBelow, BigInt(record.nonce) + 1n);
        if (record.maxUnits !== undefined) {
          progress.signedMaxUnits = max(progress.signedMaxUnits, BigInt(record.maxUnits));
          const id = `${record.stackId}:${record.nonce}`;
          const before = signed.get(id);
          const bound = max(before && BigInt(before.maxUnits ?? "0"), BigInt(record.maxUnits));
          signed.set(id, { ...record, maxUnits: String(bound), request: record.request ?? before?.request });
        }
        stacks.set(record.stackId, progress);
        break;
      }
      case "charge":
        addCharge(slices, usage, record);
        if (record.sealedHold) holds.push(record);
        if (record.stackId !== undefined && record.costWei !== "0") addStackCharge(stackCharges, record);
        break;
    }
  // The held stacks' locks before any key's row (review 2 of h-gw, LOW): a superseded hold's give-back takes its stack's
  // lock, and the settle paths take a stack's lock, then its keys' rows. Taken in one order (stack ids ascending), so
  // two batches, or a batch and a settle, never wait on each other in a circle.
  const heldStacks = [...new Set(holds.map((record) => BigInt(record.sealedHold?.stackId ?? "0")))].sort(
    (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  );
  for (const stackId of heldStacks) await lockStackCharges(db as Transaction<GatewayDatabase>, stackId);
  if (receipts.size > 0)
    await db
      .insertInto("receipts")
      .values(
        [...receipts.values()].map((record) => ({
          stack_id: record.receipt.stackId ?? "0",
          leaf_index: record.receipt.leafIndex ?? "0",
          signature: record.receipt.signature ?? "",
          receipt: JSON.stringify(record.receipt),
          created_at_ms: record.atMs,
          refused: record.refused === true,
        })),
      )
      .onConflict((oc) => oc.doNothing())
      .execute();
  if (signed.size > 0)
    await db
      .insertInto("signed_requests")
      .values(
        [...signed.values()].map((record) => ({
          stack_id: record.stackId,
          nonce: record.nonce,
          max_units: record.maxUnits ?? "0",
          path: record.request?.path ?? null,
          json: record.request?.json ?? null,
          headers: record.request ? JSON.stringify(record.request.headers) : null,
          created_at_ms: record.atMs,
        })),
      )
      // A nonce signed again carries the same body (a new deadline): the largest bound is what the node may claim.
      .onConflict((oc) =>
        oc.columns(["stack_id", "nonce"]).doUpdateSet((eb) => ({
          max_units: eb.fn("greatest", [eb.ref("signed_requests.max_units"), eb.ref("excluded.max_units")]),
          path: eb.fn.coalesce("excluded.path", "signed_requests.path"),
          json: eb.fn.coalesce("excluded.json", "signed_requests.json"),
          headers: eb.fn.coalesce("excluded.headers", "signed_requests.headers"),
        })),
      )
      .execute();
  // A request answered needs no resend: what was sent (the client's body) is not kept past its receipt, unless
  // the receipt was refused (its signature and bound are evidence against it).
  const answered = [...receipts.values()].filter((record) => record.refused !== true);
  if (answered.length > 0)
    await db
      .updateTable("signed_requests")
      .set({ path: null, json: null, headers: null })
      .where((eb) =>
        eb.or(
          answered.map(({ receipt }) =>
            eb.and([
              eb("stack_id", "=", BigInt(receipt.stackId ?? "0")),
              eb("nonce", "=", BigInt(receipt.leafIndex ?? "0")),
            ]),
          ),
        ),
      )
      .execute();
  for (const [stackId, progress] of stacks) await applyProgress(db, BigInt(stackId), progress);
  let swept = 0;
  for (const [reservationId, charges] of slices)
    if (!(await applyCharges(db, reservationId, charges))) swept += charges.records;
  if (stackCharges.size > 0)
    await db
      .insertInto("stack_charges")
      .values(
        [...stackCharges.values()].map((charge) => ({
          stack_id: charge.stackId,
          key_id: charge.keyId,
          charged_wei: String(charge.costWei),
        })),
      )
      .onConflict((oc) =>
        oc.columns(["stack_id", "key_id"]).doUpdateSet((eb) => ({
          charged_wei: eb(eb.ref("stack_charges.charged_wei"), "+", eb.ref("excluded.charged_wei")),
        })),
      )
      .execute();
  // Before the holds: a hold this batch supersedes takes its give-back off the usage this batch shows.
  for (const sum of usage.values())
    await db
      .insertInto("usage_daily")
      .values({
        key_id: sum.keyId,
        model: sum.model,
        day: sum.day,
        requests: sum.requests,
        tokens: String(sum.tokens),
        spend_wei: String(sum.spendWei),
      })
      .onConflict((oc) =>
        oc.columns(["key_id", "day", "model"]).doUpdateSet({
          requests: sql`usage_daily.requests + ${sum.requests}::bigint`,
          tokens: sql`usage_daily.tokens + ${String(sum.tokens)}::bigint`,
          spend_wei: sql`usage_daily.spend_wei + ${String(sum.spendWei)}::numeric`,
        }),
      )
      .execute();
  // In the charges' transaction: a held sealed charge exists exactly when its charge was applied. After the stack
  // charges: a hold that supersedes another request's at its nonce gives that one back by its key's weight there.
  for (const { keyId, costWei, sealedHold: hold, usage: shownAs } of holds) {
    if (hold)
      await supersedeHeld(
        db as Transaction<GatewayDatabase>,
        BigInt(hold.stackId),
        BigInt(hold.nonce),
        onClamped,
      );
    await db
      .insertInto("sealed_charges")
      .values({
        stack_id: hold?.stackId ?? "0",
        nonce: hold?.nonce ?? "0",
        key_id: keyId,
        max_units: hold?.maxUnits ?? "0",
        price_per_million: hold?.pricePerMillion ?? "0",
        charged_wei: costWei,
        created_at_ms: hold?.atMs ?? 0,
        req_hash: hold?.reqHash ?? null,
        floor_wei: hold?.floorWei ?? "0",
        usage_model: shownAs?.model ?? null,
        usage_day: shownAs?.day ?? null,
        usage_tokens: shownAs?.tokens ?? null,
      })
      .onConflict((oc) => oc.columns(["stack_id", "nonce"]).doNothing())
      .execute();
  }
  return swept;
}

function addCharge(
  slices: Map<string, SliceCharges>,
  usage: Map<string, UsageSum>,
  record: ChargeRecord,
): void {
  const cost = BigInt(record.costWei);
  const slice = slices.get(record.reservationId);
  if (slice) {
    slice.records++;
    slice.costWei += cost;
  } else slices.set(record.reservationId, { keyId: record.keyId, records: 1, costWei: cost });
  const served = record.usage;
  if (!served) return;
  const id = JSON.stringify([record.keyId, served.model, served.day]);
  const sum = usage.get(id);
  if (sum) {
    sum.requests++;
    sum.tokens += BigInt(served.tokens);
    sum.spendWei += cost;
  } else
    usage.set(id, {
      keyId: record.keyId,
      model: served.model,
      day: served.day,
      requests: 1,
      tokens: BigInt(served.tokens),
      spendWei: cost,
    });
}

/** What a batch charged each key on each stack (counted as applied, like usage: the journal position makes it once). */
function addStackCharge(
  sums: Map<string, { stackId: string; keyId: string; costWei: bigint }>,
  record: ChargeRecord,
): void {
  const stackId = record.stackId ?? "0";
  const id = JSON.stringify([stackId, record.keyId]);
  const sum = sums.get(id);
  if (sum) sum.costWei += BigInt(record.costWei);
  else sums.set(id, { stackId, keyId: record.keyId, costWei: BigInt(record.costWei) });
}

async function applyProgress(db: GatewayDb, stackId: bigint, progress: StackProgress): Promise<void> {
  let update = db.updateTable("stacks").where("stack_id", "=", stackId);
  const { unitsUsed, nextNonce, lastUsedMs, signedBelow, signedMaxUnits } = progress;
  if (unitsUsed !== undefined)
    update = update.set((eb) => ({
      units_used: eb.fn("greatest", [eb.ref("units_used"), eb.val(String(unitsUsed))]),
    }));
  if (nextNonce !== undefined)
    update = update.set((eb) => ({
      next_nonce: eb.fn("greatest", [eb.ref("next_nonce"), eb.val(String(nextNonce))]),
    }));
  if (lastUsedMs !== undefined)
    update = update.set((eb) => ({
      last_used_ms: eb.fn("greatest", [eb.ref("last_used_ms"), eb.val(lastUsedMs)]),
    }));
  if (signedBelow !== undefined)
    update = update.set((eb) => ({
      signed_below_nonce: eb.fn("greatest", [eb.ref("signed_below_nonce"), eb.val(String(signedBelow))]),
    }));
  if (signedMaxUnits !== undefined)
    update = update.set((eb) => ({
      signed_max_units: eb.fn("greatest", [eb.ref("signed_max_units"), eb.val(String(signedMaxUnits))]),
    }));
  await update.execute();
}

/**
 * A slice's charges: their cost leaves the slice (never below zero: answers dearer than their maxima are charged
 * all the same) and is added to the key's spending. One by one, each would release the least of its cost and what
 * the slice has left; added up, that is the least of their sum and the slice. False when the slice is gone (swept):
 * then they are charged past what the sweep charged (`chargeSwept`).
 */
async function applyCharges(db: GatewayDb, reservationId: string, charges: SliceCharges): Promise<boolean> {
  // The key's row first, as a slice's growth takes it (then its slice's): two gateways never wait on each other.
  await db.selectFrom("api_keys").select("key_id").where("key_id", "=", charges.keyId).forUpdate().execute();
  const row = await db
    .selectFrom("spend_reservations")
    .select(["key_id", "max_wei"])
    .where("reservation_id", "=", reservationId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) {
    await chargeSwept(db, reservationId, charges);
    return false;
  }
  // biome-ignore lint/complexity/useMathMinMax: bigints
  const released = charges.costWei < row.max_wei ? charges.costWei : row.max_wei;
  await db
    .updateTable("spend_reservations")
    .set({ max_wei: sql`max_wei - ${released}` })
    .where("reservation_id", "=", reservationId)
    .execute();
  await db
    .updateTable("api_keys")
    .set({
      reserved_wei: sql`reserved_wei - ${released}`,
      spent_wei: sql`spent_wei + ${String(charges.costWei)}::numeric`,
    })
    .where("key_id", "=", row.key_id)
    .execute();
  return true;
}

/**
 * Charges that reach a slice the sweep took (its gateway stopped writing past the slice's time, then its journal was
 * applied): the sweep charged only what was in flight at the gateway's last write, which these may be part of. Each
 * wei the sweep charged pays for one wei of them (never charged twice); the rest is charged to the key (never dropped;
 * review speed-gwfix, B-2). A slice with no record of its sweep (given back, or swept before records were kept, in
 * full) charges nothing more.
 */
async function chargeSwept(db: GatewayDb, reservationId: string, charges: SliceCharges): Promise<void> {
  const swept = await db
    .selectFrom("swept_slices")
    .select(["key_id", "credit_wei"])
    .where("reservation_id", "=", reservationId)
    .forUpdate()
    .executeTakeFirst();
  if (!swept) return;
  // biome-ignore lint/complexity/useMathMinMax: bigints
  const covered = charges.costWei < swept.credit_wei ? charges.costWei : swept.credit_wei;
  if (covered > 0n)
    await db
      .updateTable("swept_slices")
      .set({ credit_wei: sql`credit_wei - ${String(covered)}::numeric` })
      .where("reservation_id", "=", reservationId)
      .execute();
  const extra = charges.costWei - covered;
  if (extra > 0n)
    await db
      .updateTable("api_keys")
      .set({ spent_wei: sql`spent_wei + ${String(extra)}::numeric` })
      .where("key_id", "=", swept.key_id)
      .execute();
}
