import { randomUUID } from "node:crypto";
import { type Logger, silentLogger } from "@atoma/core";
import { sql } from "kysely";
import { applyJournalRecord } from "../db/applyJournal.js";
import type { ChargeRecord, Journal } from "../db/journal.js";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import { InsufficientQuotaError, InvalidApiKeyError } from "../errors.js";
import { utcDayOf } from "../usage/usageBook.js";

export interface SpendReservation {
  reservationId: string;
  keyId: string;
  maxWei: bigint;
}

export interface SpendLedgerOptions {
  /** How long a reservation may stay open before any gateway charges it in full. @default 600000 */
  reservationTtlMs?: number | undefined;
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
  /** Where settlements are written before the client is answered; none: straight to the database. */
  journal?: Journal | undefined;
}

/**
 * Keys' spending, held in the database so it holds under concurrency and across gateways: a request reserves
 * its maximum cost before it is sent (one conditional UPDATE: the budget is never promised twice), and settles
 * its actual cost after. A reservation a crash leaves behind is charged in full once it expires (`sweep`): the
 * gateway cannot know what the node served, and a key never gets service for free.
 */
export class SpendLedger {
  readonly #db: GatewayDb;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #journal: Journal | undefined;

  constructor(db: GatewayDb, options: SpendLedgerOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.reservationTtlMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.#logger = (options.logger ?? silentLogger).child({ module: "spend" });
    this.#journal = options.journal;
  }

  /**
   * Reserves `maxWei` of the key's budget. Throws `InsufficientQuotaError` when the budget, less what is spent
   * and reserved, cannot cover it, and `InvalidApiKeyError` when the key was revoked or expired meanwhile.
   */
  async reserve(keyId: string, maxWei: bigint): Promise<SpendReservation> {
    const now = this.#now();
    const reservationId = randomUUID();
    // One statement (an UPDATE feeding an INSERT): one round trip, atomic without a transaction around it.
    const reserved = await this.#db
      .with("taken", (db) =>
        db
          .updateTable("api_keys")
          .set({ reserved_wei: sql`reserved_wei + ${maxWei}`, updated_at_ms: now })
          .where("key_id", "=", keyId)
          .where("revoked_at_ms", "is", null)
          .where((eb) => eb.or([eb("expires_at_ms", "is", null), eb("expires_at_ms", ">", BigInt(now))]))
          .where((eb) =>
            eb.or([
              eb("budget_wei", "is", null),
              eb(sql`spent_wei + reserved_wei + ${maxWei}`, "<=", eb.ref("budget_wei")),
            ]),
          )
          .returning("key_id"),
      )
      .insertInto("spend_reservations")
      .columns(["reservation_id", "key_id", "max_wei", "expires_at_ms"])
      .expression((eb) =>
        eb
          .selectFrom("taken")
          .select((s) => [
            s.val(reservationId).as("reservation_id"),
            "taken.key_id",
            s.val(maxWei.toString()).as("max_wei"),
            s.val(String(now + this.#ttlMs)).as("expires_at_ms"),
          ]),
      )
      .returning("reservation_id")
      .executeTakeFirst();
    if (reserved) return { reservationId, keyId, maxWei };
    throw await this.#refusal(keyId, now);
  }

  /**
   * Charges `actualWei` for the request and gives the rest of its reservation back, with what it served for the
   * usage book. With a journal this is one synchronous append (applied to the database in the background, before
   * the client is answered); without one it is applied now. A reservation already swept (charged in full) is
   * not charged again. An actual cost above the reservation is charged as it is and logged: the key overshoots
   * its budget by it, and never silently.
   */
  async settle(
    reservation: SpendReservation,
    actualWei: bigint,
    served?: { model: string; units: bigint } | undefined,
  ): Promise<void> {
    const record: ChargeRecord = {
      kind: "charge",
      reservationId: reservation.reservationId,
      keyId: reservation.keyId,
      costWei: actualWei.toString(),
      usage: served && {
        model: served.model,
        day: utcDayOf(this.#now()),
        tokens: served.units.toString(),
      },
    };
    if (this.#journal) this.#journal.append(record);
    else if (!(await applyJournalRecord(this.#db, record)))
      this.#logger.warn(
        { keyId: reservation.keyId, reservationId: reservation.reservationId },
        "a reservation was swept before its request settled: it was charged at its maximum",
      );
    if (actualWei > reservation.maxWei)
      this.#logger.warn(
        { keyId: reservation.keyId, maxWei: String(reservation.maxWei), actualWei: String(actualWei) },
        "a request cost more than its reserved maximum: the key was charged the actual cost",
      );
  }

  /** Charges every expired reservation its maximum (what a crash left open). Returns how many. */
  async sweep(): Promise<number> {
    const now = this.#now();
    const swept = await this.#db.transaction().execute(async (tx) => {
      const rows = await tx
        .deleteFrom("spend_reservations")
        .where("expires_at_ms", "<=", BigInt(now))
        .returning(["key_id", "max_wei"])
        .execute();
      for (const row of rows)
        await tx
          .updateTable("api_keys")
          .set({
            reserved_wei: sql`reserved_wei - ${row.max_wei}`,
            spent_wei: sql`spent_wei + ${row.max_wei}`,
            updated_at_ms: now,
          })
          .where("key_id", "=", row.key_id)
          .execute();
      return rows;
    });
    if (swept.length > 0)
      this.#logger.warn(
        { reservations: swept.length },
        "charged reservations left open past their time in full",
      );
    return swept.length;
  }

  async #refusal(keyId: string, now: number): Promise<Error> {
    const row = await this.#db
      .selectFrom("api_keys")
      .select(["revoked_at_ms", "expires_at_ms", "reserved_wei"])
      .where("key_id", "=", keyId)
      .executeTakeFirst();
    if (!row) return new InvalidApiKeyError("unknown");
    if (row.revoked_at_ms !== null) return new InvalidApiKeyError("revoked");
    if (row.expires_at_ms !== null && Number(row.expires_at_ms) <= now)
      return new InvalidApiKeyError("expired");
    return new InsufficientQuotaError(row.reserved_wei > 0n);
  }
}
