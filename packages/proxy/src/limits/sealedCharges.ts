import { costOfUnits, type Logger, silentLogger } from "@atoma/core";
import { type Selectable, sql, type Transaction } from "kysely";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { GatewayDatabase, SealedChargesTable } from "../db/schema.js";
import { receiptFromRow } from "../network/receiptRows.js";
import { lockStackCharges } from "../refunds/stackChargesLock.js";

/** A sealed request charged its whole reservation: where it was signed, and what the key paid for it. */
export interface HeldSealedCharge {
  keyId: string;
  stackId: bigint;
  nonce: bigint;
  maxUnits: bigint;
  pricePerMillion: bigint;
  chargedWei: bigint;
  /** The request hash signed at that nonce: only a receipt for it settles the charge at its units. */
  reqHash?: string | undefined;
  /** The least the charge settles at, whatever the receipt says: its session's hold (`ConfidentialSessions`). */
  floorWei?: bigint | undefined;
}

/**
 * Sealed streams that reached their client with no receipt (review3 M-3). The key is charged the whole reservation
 * at once: the node may bill that leaf up to the bound the gateway signed, and no unit is lost meanwhile. The charge
 * is held here, per stack and nonce, until the node's own word on the leaf: its receipt, when the pending request is
 * resent before the stack's next (the node answers it from its records, or again). Then the key pays what the
 * receipt says (at most the signed bound), never less than the session's hold (`floor_wei`: what holding the stack
 * cost, which an answered session pays too), and gets the rest back, once: the row goes in the same transaction. A leaf
 * never resent is settled when its stack's settlement is over (`settleBySettlement`, from the `OverclaimWatcher`).
 */
export class SealedCharges {
  readonly #db: GatewayDb;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #flush: () => Promise<void>;

  /**
   * `flush` applies the charges journaled but not yet in the database (the journal's `flush`): it runs before any
   * give-back, so a refund never reaches the database before the charge it undoes.
   */
  constructor(
    db: GatewayDb,
    components: {
      logger?: Logger | undefined;
      now?: (() => number) | undefined;
      flush?: (() => Promise<void>) | undefined;
    } = {},
  ) {
    this.#db = db;
    this.#logger = (components.logger ?? silentLogger).child({ module: "sealed-charges" });
    this.#now = components.now ?? Date.now;
    this.#flush = components.flush ?? (async () => {});
  }

  /**
   * Holds a charge until its leaf's receipt comes (one per stack and nonce: a second is ignored). The gateway does not
   * call this: it writes the hold with its charge (`SpendLedger.settle`'s `sealedHold`, one journal record), so a
   * crash cannot leave one without the other.
   */
  async hold(charge: HeldSealedCharge): Promise<void> {
    await this.#db
      .insertInto("sealed_charges")
      .values({
        stack_id: charge.stackId,
        nonce: charge.nonce,
        key_id: charge.keyId,
        max_units: charge.maxUnits,
        price_per_million: charge.pricePerMillion,
        charged_wei: charge.chargedWei,
        created_at_ms: this.#now(),
        req_hash: charge.reqHash ?? null,
        floor_wei: charge.floorWei ?? 0n,
      })
      .onConflict((oc) => oc.columns(["stack_id", "nonce"]).doNothing())
      .execute();
  }

  /**
   * The node's receipt for leaf `nonce` of `stackId` came: a charge held for it is settled at the receipt's units
   * (at most the signed bound) and the rest given back to its key. Returns what was given back (0 when none was held).
   * A receipt the gateway refused (it does not verify, or it is fraud) proves nothing: the charge stays held for the
   * leaf's accepted receipt or the stack's settlement (`accepted` false gives nothing back).
   * `reqHash` is the receipt's request hash (review s5 M2): a nonce given up past its deadline is signed again for
   * another request, and that request's receipt proves the held one was never served at this leaf, so its charge
   * comes back but for its floor (review L1: the session did hold the stack) instead of paying for units another key
   * used.
   */
  async settleByReceipt(
    stackId: bigint,
    nonce: bigint,
    units: bigint,
    accepted = true,
    reqHash?: string | undefined,
  ): Promise<bigint> {
    if (!accepted) {
      this.#logger.warn(
        { stackId: String(stackId), nonce: String(nonce) },
        "a refused receipt does not settle a held sealed charge: kept for the settlement",
      );
      return 0n;
    }
    return this.#settleHeld(
      stackId,
      nonce,
      undefined,
      "a sealed request's held charge settled by its receipt",
      (held) => {
        const other = reqHash !== undefined && held.req_hash !== null && !sameHash(held.req_hash, reqHash);
        const billed = other ? 0n : units < held.max_units ? units : held.max_units;
        if (other)
          this.#logger.warn(
            { keyId: held.key_id, stackId: String(stackId), nonce: String(nonce) },
            "a held sealed request's nonce was served for another request: its charge comes back but for its session's hold",
          );
        return {
          units: billed,
          costWei: atLeast(costOfUnits(billed, held.price_per_million), held.floor_wei),
        };
      },
    );
  }

  /**
   * The node said it committed nothing at leaf `nonce` for the held request `reqHash` (its leaf read's
   * `leaf_not_found`), and the gateway freed the nonce for another request (review 2 of h-gw, HIGH-A): that charge is
   * settled now at its floor, the rest given back. No later receipt at the nonce settles it: the next one there is a
   * request signed afresh, even with the same body (and so the same request hash), and paid by its own key. A row
   * held for another request there is left alone. Returns what was given back.
   */
  async settleFreed(stackId: bigint, nonce: bigint, reqHash: string): Promise<bigint> {
    return this.#settleHeld(
      stackId,
      nonce,
      reqHash,
      "a held request the node committed nothing for: its charge settled at its floor",
      (held) => ({ units: 0n, costWei: held.floor_wei }),
    );
  }

  /**
   * Settles the charge held at leaf `nonce` of `stackId` (with `onlyFor`, only one held for that request hash or for
   * none) at `cost` of it, its row deleted and the rest given back to its key in one transaction, under the stack's
   * charges lock and after the journal's flush; `settled` is logged. The usage book shows the units and cost it
   * settled at. Returns what was given back (0 when none was held).
   */
  async #settleHeld(
    stackId: bigint,
    nonce: bigint,
    onlyFor: string | undefined,
    settled: string,
    cost: (held: Selectable<SealedChargesTable>) => { units: bigint; costWei: bigint },
  ): Promise<bigint> {
    await this.#flush();
    return this.#db.transaction().execute(async (tx) => {
      await lockStackCharges(tx, stackId);
      const held = await tx
        .deleteFrom("sealed_charges")
        .where("stack_id", "=", stackId)
        .where("nonce", "=", nonce)
        .$if(onlyFor !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb("req_hash", "is", null),
              eb(eb.fn("lower", ["req_hash"]), "=", (onlyFor as string).toLowerCase()),
            ]),
          ),
        )
        .returningAll()
        .executeTakeFirst();
      if (!held) return 0n;
      const settledAt = cost(held);
      const back = atLeastZero(held.charged_wei - settledAt.costWei);
      const given = back > 0n ? await giveBack(tx, held.key_id, back, stackId) : 0n;
      await showSettled(tx, held, back, settledAt.units);
      this.#logger.debug(
        { keyId: held.key_id, stackId: String(stackId), nonce: String(nonce), back: String(given) },
        settled,
      );
      return given;
    });
  }

  /**
   * The stack's settlement is over and its receipts say no more: the charges still held on it are settled at what the
   * node was paid past the gateway's last receipt (`paidUnits` less that receipt's running total; 0 when the
   * settlement failed or timed out and nothing was paid), handed out in nonce order, each at most its bound, the rest
   * given back. A charge at or below the last receipt's leaf (its units hidden in that running total) is settled
   * at its own accepted receipt when one was kept (a resend's receipt that came before the charge was applied),
   * else at what the accepted receipts around it prove the gap cost (shared in nonce order, each within its bound). Each row goes in the transaction that gives its key back, so a second call changes nothing.
   * Returns what was given back in all.
   */
  async settleBySettlement(
    stackId: bigint,
    paidUnits: bigint,
    lastReceipt: { leafIndex: bigint; cumulativeUnits: bigint } | undefined,
  ): Promise<bigint> {
    await this.#flush();
    return this.#db.transaction().execute(async (tx) => {
      await lockStackCharges(tx, stackId);
      const held = await tx
        .deleteFrom("sealed_charges")
        .where("stack_id", "=", stackId)
        .returningAll()
        .execute();
      held.sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
      const receipted = lastReceipt?.cumulativeUnits ?? 0n;
      let unpaid = paidUnits > receipted ? paidUnits - receipted : 0n;
      let back = 0n;
      const kept =
        lastReceipt && held.some((row) => row.nonce <= lastReceipt.leafIndex)
          ? await accepted(tx, stackId)
          : [];
      const gaps = new Map<bigint, bigint>();
      for (const row of held) {
        let billed: bigint;
        if (lastReceipt && row.nonce <= lastReceipt.leafIndex) {
          // Inside the last receipt's running total: the leaf's own accepted receipt says what it cost; without one,
          // the accepted receipts around it do (the next one's total before its own units, less the previous one's
          // total), shared among the held leaves of that gap in nonce order, each within its bound.
          const own = kept.find((r) => r.leafIndex === row.nonce);
          // The leaf's receipt is another request's (its nonce given up past the deadline, review s5 M2): this one
          // was never served there.
          if (
            own &&
            row.req_hash !== null &&
            own.reqHash !== undefined &&
            !sameHash(own.reqHash, row.req_hash)
          )
            billed = 0n;
          else if (own) billed = atMost(own.units, row.max_units);
          else {
            const found = kept.find((r) => r.leafIndex > row.nonce);
            // With no accepted receipt after it (the last one refused, or never kept), the last receipt's running
            // total is the bound on what the gap cost: never the row deleted and its whole bound kept charged.
            const next =
              found && found.cumulativeUnits >= found.units
                ? found
                : {
                    leafIndex: lastReceipt.leafIndex,
                    cumulativeUnits: lastReceipt.cumulativeUnits,
                    units: 0n,
                  };
            if (!found)
              this.#logger.warn(
                { keyId: row.key_id, stackId: String(stackId), nonce: String(row.nonce) },
                "a held sealed charge has no accepted receipt at or after it: billed within the last receipt's total",
              );
            const prev = kept.findLast((r) => r.leafIndex < row.nonce);
            const before = next.cumulativeUnits - next.units;
            const left = gaps.get(next.leafIndex) ?? atLeastZero(before - (prev?.cumulativeUnits ?? 0n));
            billed = atMost(left, row.max_units);
            gaps.set(next.leafIndex, left - billed);
          }
        } else {
          billed = unpaid < row.max_units ? unpaid : row.max_units;
          unpaid -= billed;
        }
        const cost = atLeast(costOfUnits(billed, row.price_per_million), row.floor_wei);
        const given = row.charged_wei > cost ? row.charged_wei - cost : 0n;
        if (given > 0n) back += await giveBack(tx, row.key_id, given, stackId);
        await showSettled(tx, row, given, billed);
      }
      if (held.length > 0)
        this.#logger.debug(
          { stackId: String(stackId), charges: held.length, back: String(back) },
          "sealed charges held on a stack settled by its settlement",
        );
      return back;
    });
  }

  /** Charges still held (their leaf has no receipt yet). */
  async held(): Promise<HeldSealedCharge[]> {
    const rows = await this.#db.selectFrom("sealed_charges").selectAll().execute();
    return rows.map((row) => ({
      keyId: row.key_id,
      stackId: row.stack_id,
      nonce: row.nonce,
      maxUnits: row.max_units,
      pricePerMillion: row.price_per_million,
      chargedWei: row.charged_wei,
      reqHash: row.req_hash ?? undefined,
      floorWei: row.floor_wei,
    }));
  }
}

/**
 * A new hold at a stack and nonce where an earlier request's charge is held (review of h-gw, HIGH-3). Each charge is
 * applied once (the journal's position), so a second one there is a request signed at that nonce again: the gateway
 * does so only once the node said nothing was committed there (a stopped stream's leaf read) or gave the nonce up past
 * its deadline, and one leaf stands at a nonce at most (the same body signed again has the same request hash). The
 * earlier request was not served there: its charge comes back but for its floor, and the newer one is held.
 */
export async function supersedeHeld(
  tx: Transaction<GatewayDatabase>,
  stackId: bigint,
  nonce: bigint,
  /** Told of a give-back the key's spend could not hold whole (`giveBack`'s clamp): what the gateway lost. */
  onClamped?: ((loss: ClampedGiveBack) => void) | undefined,
): Promise<void> {
  const older = await tx
    .deleteFrom("sealed_charges")
    .where("stack_id", "=", stackId)
    .where("nonce", "=", nonce)
    .returningAll()
    .execute();
  for (const row of older) {
    const back = atLeastZero(row.charged_wei - row.floor_wei);
    // In the journal's batch: a give-back the key's spend cannot hold is clamped, never the whole batch failed.
    if (back > 0n) await giveBack(tx, row.key_id, back, stackId, onClamped ?? (() => undefined));
    await showSettled(tx, row, back, 0n);
  }
}

/**
 * A held charge settled: the usage book row it was shown in (its key, model and day) now shows what it settled at,
 * `back` wei less and `units` in place of the units shown at the hold, never below zero (a row lowered meanwhile).
 * A charge held with no usage, or before migration 0019, moves the key's spend only.
 */
async function showSettled(
  tx: Transaction<GatewayDatabase>,
  row: Selectable<SealedChargesTable>,
  back: bigint,
  units: bigint,
): Promise<void> {
  if (row.usage_model === null || row.usage_day === null) return;
  const tokens = units - (row.usage_tokens ?? units);
  if (back === 0n && tokens === 0n) return;
  // The key's row before its usage row, as the journal's batches take them: two never wait on each other.
  await tx.selectFrom("api_keys").select("key_id").where("key_id", "=", row.key_id).forUpdate().execute();
  await tx
    .updateTable("usage_daily")
    .set({
      spend_wei: sql`greatest(spend_wei - ${String(back)}::numeric, 0)`,
      tokens: sql`greatest(tokens + ${String(tokens)}::bigint, 0)`,
    })
    .where("key_id", "=", row.key_id)
    .where("model", "=", row.usage_model)
    .where("day", "=", row.usage_day)
    .execute();
}

/** A give-back clamped at the key's spend (review 3 of h-gw, LOW): the part of it the key's spend did not hold. */
export interface ClampedGiveBack {
  keyId: string;
  stackId: bigint;
  /** What was to go back, and what the key's spend held of it (set to zero). */
  backWei: bigint;
  spentWei: bigint;
}

/** The charge a give-back undoes is not in the database (yet): the give-back is rolled back and its row kept held. */
export class ChargeNotRecordedError extends Error {
  readonly code = "charge_not_recorded";
  constructor(keyId: string, back: bigint) {
    super(
      `key ${keyId}: the charge ${back} wei would go back on is not recorded yet; the held charge is kept`,
    );
    this.name = "ChargeNotRecordedError";
  }
}

/**
 * Takes `back` off the key's spend, only where the spend holds it: a charge not yet applied (a journal or database
 * failure) throws, which rolls the transaction back with its DELETE, so the held row stays for a later settlement
 * instead of the refund being lost or breaking `spent_wei >= 0`. What the key was already credited of the stack's
 * refunds beyond its charge there after this give-back (a split that weighed the hold whole, review H1) is kept
 * out of it: the key ends credited at most its final charge, and a credit never makes this give-back fail.
 * `clamp` (a superseded hold, in the journal's batch): a spend that cannot hold it goes to zero instead of throwing,
 * and `clamp` is told what it held of it. Returns what went back.
 */
async function giveBack(
  tx: Transaction<GatewayDatabase>,
  keyId: string,
  back: bigint,
  stackId: bigint,
  clamp?: ((loss: ClampedGiveBack) => void) | undefined,
): Promise<bigint> {
  await lockStackCharges(tx, stackId);
  const weight = await tx
    .selectFrom("stack_charges as c")
    .leftJoin("stack_refund_credits as r", (join) =>
      join.onRef("r.stack_id", "=", "c.stack_id").onRef("r.key_id", "=", "c.key_id"),
    )
    .select(["c.charged_wei", "r.credited_wei"])
    .where("c.stack_id", "=", stackId)
    .where("c.key_id", "=", keyId)
    .executeTakeFirst();
  const credited = BigInt(weight?.credited_wei ?? 0n);
  const left = weight ? atLeastZero(BigInt(weight.charged_wei) - back) : undefined;
  const over = left === undefined ? 0n : atMost(atLeastZero(credited - left), back);
  const net = back - over;
  if (net > 0n) {
    const result = await tx
      .updateTable("api_keys")
      .set((eb) => ({ spent_wei: eb("spent_wei", "-", net) }))
      .where("key_id", "=", keyId)
      .where("spent_wei", ">=", net)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      if (!clamp) throw new ChargeNotRecordedError(keyId, net);
      const spent = await tx
        .selectFrom("api_keys")
        .select("spent_wei")
        .where("key_id", "=", keyId)
        .executeTakeFirst();
      await tx.updateTable("api_keys").set({ spent_wei: "0" }).where("key_id", "=", keyId).execute();
      clamp({ keyId, stackId, backWei: net, spentWei: BigInt(spent?.spent_wei ?? 0n) });
    }
  }
  if (over > 0n)
    await tx
      .updateTable("stack_refund_credits")
      .set((eb) => ({ credited_wei: eb("credited_wei", "-", over) }))
      .where("stack_id", "=", stackId)
      .where("key_id", "=", keyId)
      .execute();
  // What the key paid on the stack (a refund's weight) goes down with it; held before migration 0012: no row.
  if (left !== undefined)
    await tx
      .updateTable("stack_charges")
      .set({ charged_wei: left })
      .where("stack_id", "=", stackId)
      .where("key_id", "=", keyId)
      .execute();
  return net;
}

/** The stack's accepted (not refused) receipts, by leaf: their units and running totals. */
async function accepted(
  tx: Transaction<GatewayDatabase>,
  stackId: bigint,
): Promise<{ leafIndex: bigint; units: bigint; cumulativeUnits: bigint; reqHash: string | undefined }[]> {
  const rows = await tx
    .selectFrom("receipts")
    .select(["leaf_index", "receipt"])
    .where("stack_id", "=", stackId)
    .where("refused", "=", false)
    .orderBy("leaf_index")
    .execute();
  return rows.map((row) => {
    const f = receiptFromRow(row.receipt).fields;
    return {
      leafIndex: BigInt(row.leaf_index),
      units: f.units,
      cumulativeUnits: f.cumulativeUnits,
      reqHash: f.reqHash as string | undefined,
    };
  });
}

function sameHash(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function atLeastZero(value: bigint): bigint {
  return value > 0n ? value : 0n;
}

/** The session's hold is the floor: its key pays at least that, the receipt's units however few. */
function atLeast(value: bigint, floor: bigint): bigint {
  return value > floor ? value : floor;
}

function atMost(value: bigint, bound: bigint): bigint {
  return value < bound ? value : bound;
}
