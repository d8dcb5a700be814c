import { randomUUID } from "node:crypto";
import { type Logger, silentLogger } from "@atoma/core";
import { type RawBuilder, sql } from "kysely";
import { applyJournalRecord } from "../db/applyJournal.js";
import type { ChargeRecord } from "../db/journal.js";
import type { JournalFlusher } from "../db/journalFlusher.js";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import { InsufficientQuotaError, InvalidApiKeyError } from "../errors.js";
import { utcDayOf } from "../usage/usageBook.js";

/** How long a swept slice's record is kept for its gateway's late journal (a restart days later charges in full). */
const SWEPT_MEMORY_MS = 7 * 24 * 3_600_000;

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
  journal?: JournalFlusher | undefined;
  /** A slice of a key's budget holds this many maxima of the request that takes it. @default 16 */
  sliceRequests?: number | undefined;
  /** A slice no request used for this long goes back (0: as soon as none is in flight). @default 2000 */
  sliceIdleMs?: number | undefined;
}

/** The part of a key's budget this process holds (a row of `spend_reservations`), and what its requests took. */
interface Slice {
  sliceId: string;
  keyId: string;
  heldWei: bigint;
  inFlightWei: bigint;
  /** On the process's clock. */
  idleSince: number;
  growing: Promise<void> | undefined;
}

/**
 * Keys' spending, held so budgets hold under concurrency and across gateways: each gateway takes a slice of a
 * key's budget in one conditional statement (`spend_reservations`, counted in `reserved_wei`: the budget is never
 * promised twice) and admits requests from it in memory, each reserving its maximum cost; a request settles at
 * its actual cost, which leaves the slice. A slice holds about `sliceRequests` requests' maxima, or just what a
 * request needs when no more fits; an idle one goes back after `sliceIdleMs`. Another gateway may refuse a request
 * the budget could cover while this one holds an idle slice (at most `sliceIdleMs`), but no gateway overshoots
 * a budget (except by an answer that cost more than its maximum, which is charged and logged). A slice a vanished
 * gateway left is charged, once it expires (`sweep`), the maxima its requests had in flight when the gateway last
 * wrote them down (each growth, each `maintain`, about every second), and the rest goes back: what was settled is
 * charged by its record, and the gateway cannot know what the node served those in flight. A gateway that restarts
 * on its journal gives its own back once the journal is replayed (`recover`).
 */
export class SpendLedger {
  readonly #db: GatewayDb;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #journal: JournalFlusher | undefined;
  readonly #sliceRequests: bigint;
  readonly #idleMs: number;
  readonly #holder: string;
  readonly #slices = new Map<string, Slice>();
  /** Reservations taken and not yet settled, and who waits for none to be left (`settledAll`). */
  #open = 0;
  readonly #waiters: (() => void)[] = [];
  /** Charges `settle` could not record (journal or database failing): applied by the next `maintain`. */
  readonly #unrecorded: ChargeRecord[] = [];
  /** Idle slices taken out of the map whose give-back failed: retried by the next `maintain`. */
  #returning: Slice[] = [];
  #maintaining: Promise<unknown> = Promise.resolve();

  constructor(db: GatewayDb, options: SpendLedgerOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.reservationTtlMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.#logger = (options.logger ?? silentLogger).child({ module: "spend" });
    this.#journal = options.journal;
    this.#sliceRequests = BigInt(options.sliceRequests ?? 16);
    this.#idleMs = options.sliceIdleMs ?? 2_000;
    this.#holder = options.journal?.gatewayId ?? randomUUID();
  }

  /** Reservations taken and not settled yet: the requests in flight. */
  get inFlight(): number {
    return this.#open;
  }

  /**
   * Reserves `maxWei` of the key's budget. Throws `InsufficientQuotaError` when the budget, less what is spent
   * and reserved, cannot cover it, and `InvalidApiKeyError` when the key was revoked or expired meanwhile.
   */
  async reserve(keyId: string, maxWei: bigint): Promise<SpendReservation> {
    for (;;) {
      const slice = this.#slices.get(keyId);
      if (slice && slice.heldWei - slice.inFlightWei >= maxWei) {
        slice.inFlightWei += maxWei;
        this.#open += 1;
        return { reservationId: slice.sliceId, keyId, maxWei };
      }
      if (slice?.growing) await slice.growing;
      else await this.#grow(keyId, maxWei);
    }
  }

  /**
   * Charges `actualWei` for the request and gives the rest of its reservation back, with what it served for the
   * usage book, and (`sealedHold`) the charge held for a sealed leaf with no receipt, in the same record. With a journal this is one synchronous append (applied to the database in the background, before
   * the client is answered); without one it is applied now. A slice already swept (charged in full) is not
   * charged again. An actual cost above the reservation is charged as it is and logged: the key overshoots its
   * budget by it, and never silently. `stackId`: the stack it was served on, recorded with the charge where refunds
   * are split by what each key was charged (a confidential session's level-3 stack).
   */
  async settle(
    reservation: SpendReservation,
    actualWei: bigint,
    served?: { model: string; units: bigint } | undefined,
    sealedHold?:
      | {
          stackId: bigint;
          nonce: bigint;
          maxUnits: bigint;
          pricePerMillion: bigint;
          reqHash?: string | undefined;
          floorWei?: bigint | undefined;
        }
      | undefined,
    stackId?: bigint | undefined,
  ): Promise<void> {
    const record: ChargeRecord = {
      kind: "charge",
      reservationId: reservation.reservationId,
      keyId: reservation.keyId,
      costWei: actualWei.toString(),
      usage: served && { model: served.model, day: utcDayOf(this.#now()), tokens: served.units.toString() },
      ...(stackId === undefined ? {} : { stackId: stackId.toString() }),
      sealedHold: sealedHold && {
        stackId: sealedHold.stackId.toString(),
        nonce: sealedHold.nonce.toString(),
        maxUnits: sealedHold.maxUnits.toString(),
        pricePerMillion: sealedHold.pricePerMillion.toString(),
        atMs: this.#now(),
        reqHash: sealedHold.reqHash,
        ...(sealedHold.floorWei ? { floorWei: sealedHold.floorWei.toString() } : {}),
      },
    };
    if (actualWei > reservation.maxWei)
      this.#logger.warn(
        { keyId: reservation.keyId, maxWei: String(reservation.maxWei), actualWei: String(actualWei) },
        "a request cost more than its reserved maximum: the key was charged the actual cost",
      );
    // A slice goes back only once every charge on it is in the database: the journal's are flushed first, and
    // one applied here is applied before its request stops counting as in flight.
    // A charge that cannot be recorded now (journal or database failing) is kept and applied by the next
    // `maintain` before any slice goes back; the request stops counting as in flight either way.
    try {
      await this.#record(record);
    } catch (error) {
      this.#unrecorded.push(record);
      // The whole record is logged: were the process to end before the next run, it is not lost.
      this.#logger.error(
        { record, err: error },
        "recording a charge failed: it is kept and applied by the next maintenance run",
      );
    } finally {
      this.#open = Math.max(0, this.#open - 1);
      if (this.#open === 0) for (const wake of this.#waiters.splice(0)) wake();
    }
    const slice = this.#slices.get(reservation.keyId);
    if (slice?.sliceId === reservation.reservationId) {
      slice.inFlightWei -= reservation.maxWei;
      slice.heldWei -= actualWei < slice.heldWei ? actualWei : slice.heldWei;
      slice.idleSince = performance.now();
    }
    if (!this.#journal && this.#idleMs === 0)
      await this.maintain().catch((error: unknown) =>
        this.#logger.warn({ err: error }, "giving back idle slices failed: the next maintenance run retries"),
      );
  }

  /**
   * Gives back the slices idle for `idleMs` (their charges applied first) and keeps the others from expiring.
   * Run it every second or so; with `0`, every idle slice goes back (shutdown).
   */
  maintain(idleMs = this.#idleMs): Promise<void> {
    // One at a time: a shutdown's waits for the tick in progress, whose slices it took out of the map.
    const run = this.#maintaining.then(() => this.#maintain(idleMs));
    this.#maintaining = run.catch(() => undefined);
    return run;
  }

  /**
   * Resolves once every reservation taken has settled (true), or after `timeoutMs` (false): a shutdown waits on
   * it before it closes the journal, so a stream still reading its receipt is charged.
   */
  async settledAll(timeoutMs: number): Promise<boolean> {
    if (this.#open === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const settled = await new Promise<boolean>((resolve) => {
      this.#waiters.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    return settled;
  }

  /** Journaled, or applied now; a journal that refuses it (closed by a shutdown, failing) falls back to the database. */
  async #record(record: ChargeRecord): Promise<void> {
    if (this.#journal)
      try {
        this.#journal.journal.append(record);
        return;
      } catch (error) {
        this.#logger.warn({ err: error }, "the journal refused a charge: it is applied to the database now");
      }
    await this.#applyNow(record);
  }

  /** Applies a charge to the database now; logs one whose slice was swept meanwhile (charged past what the sweep did). */
  async #applyNow(record: ChargeRecord): Promise<void> {
    if (!(await this.#db.transaction().execute((tx) => applyJournalRecord(tx, record))))
      this.#logger.warn(
        { keyId: record.keyId, reservationId: record.reservationId },
        "a reservation was swept before its request settled: charged past what the sweep charged",
      );
  }

  /** Applies the charges `settle` could not record, straight to the database (they are in no journal). */
  async #applyUnrecorded(): Promise<void> {
    // Taken out first: a concurrent run (a refused growth) never applies one twice.
    const batch = this.#unrecorded.splice(0);
    for (const [i, record] of batch.entries())
      try {
        await this.#applyNow(record);
      } catch (error) {
        this.#unrecorded.unshift(...batch.slice(i));
        throw error;
      }
  }

  async #maintain(idleMs: number): Promise<void> {
    // Before any slice goes back: its charges must be in the database.
    await this.#applyUnrecorded();
    const now = performance.now();
    const idle = [...this.#slices.values()].filter(
      (slice) => slice.inFlightWei === 0n && !slice.growing && now - slice.idleSince >= idleMs,
    );
    for (const slice of idle) this.#slices.delete(slice.keyId);
    // Those a failed run left (their flush or give-back failed) go first; until then they are renewed as live.
    const returning = [...this.#returning, ...idle];
    this.#returning = [];
    let given = 0;
    try {
      if (returning.length > 0) await this.#journal?.flush();
      for (const slice of returning) {
        await this.#giveBack(sql<boolean>`reservation_id = ${slice.sliceId}`);
        given += 1;
      }
    } catch (error) {
      // Not given back: they stay this process's, for the next run (never left to the sweep's full charge).
      this.#returning = returning.slice(given);
      throw error;
    }
    const live = [...this.#slices.values(), ...this.#returning];
    if (live.length > 0)
      await this.#db
        .updateTable("spend_reservations")
        .set({
          expires_at_ms: this.#now() + this.#ttlMs,
          // What each has in flight now: all a sweep charges should this gateway vanish.
          in_flight_wei: sql`case ${sql.join(
            live.map(
              (slice) =>
                sql`when reservation_id = ${slice.sliceId} then ${slice.inFlightWei.toString()}::numeric`,
            ),
            sql` `,
          )} else in_flight_wei end`,
        })
        .where(
          "reservation_id",
          "in",
          live.map((slice) => slice.sliceId),
        )
        .execute();
  }

  /** Gives back the slices an earlier run of this gateway held (call it once its journal is replayed). */
  recover(): Promise<void> {
    return this.#giveBack(sql<boolean>`reservation_id like ${`${this.#holder}:%`}`);
  }

  /** Takes more of the key's budget into its slice (one at a time per key), or throws the refusal. */
  #grow(keyId: string, maxWei: bigint): Promise<void> {
    let slice = this.#slices.get(keyId);
    if (!slice) {
      slice = {
        sliceId: `${this.#holder}:${randomUUID()}`,
        keyId,
        heldWei: 0n,
        inFlightWei: 0n,
        idleSince: performance.now(),
        growing: undefined,
      };
      this.#slices.set(keyId, slice);
    }
    const held = slice;
    const need = maxWei - (held.heldWei - held.inFlightWei);
    const more = maxWei * this.#sliceRequests;
    const growing = (async () => {
      const now = this.#now();
      // The request taking it counts as in flight, so a gateway that vanishes at once leaves it charged.
      const inFlight = held.inFlightWei + maxWei;
      const took =
        (more > need && (await this.#take(held, more, now, inFlight))) ||
        (await this.#take(held, need, now, inFlight));
      if (!took) {
        if (held.heldWei === 0n && held.inFlightWei === 0n) {
          // Spent to nothing and refused more: its row goes, once its charges are in.
          if (this.#slices.get(keyId) === held) this.#slices.delete(keyId);
          await this.#journal?.flush();
          await this.#applyUnrecorded();
          await this.#giveBack(sql<boolean>`reservation_id = ${held.sliceId}`);
        }
        throw await this.#refusal(keyId, now);
      }
    })().finally(() => {
      held.growing = undefined;
    });
    held.growing = growing.catch(() => undefined);
    return growing;
  }

  /** Adds `amount` to the slice if the key may still spend it (one statement); false when it may not. */
  async #take(slice: Slice, amount: bigint, now: number, inFlight: bigint): Promise<boolean> {
    const taken = await this.#db
      .with("taken", (db) =>
        db
          .updateTable("api_keys")
          .set({ reserved_wei: sql`reserved_wei + ${amount}`, updated_at_ms: now })
          .where("key_id", "=", slice.keyId)
          .where("revoked_at_ms", "is", null)
          .where((eb) => eb.or([eb("expires_at_ms", "is", null), eb("expires_at_ms", ">", BigInt(now))]))
          .where((eb) =>
            eb.or([
              eb("budget_wei", "is", null),
              eb(sql`spent_wei + reserved_wei + ${amount}`, "<=", eb.ref("budget_wei")),
            ]),
          )
          .returning("key_id"),
      )
      .insertInto("spend_reservations")
      .columns(["reservation_id", "key_id", "max_wei", "expires_at_ms", "in_flight_wei"])
      .expression((eb) =>
        eb
          .selectFrom("taken")
          .select((s) => [
            s.val(slice.sliceId).as("reservation_id"),
            "taken.key_id",
            s.val(amount.toString()).as("max_wei"),
            s.val(String(now + this.#ttlMs)).as("expires_at_ms"),
            s.val(inFlight.toString()).as("in_flight_wei"),
          ]),
      )
      .onConflict((oc) =>
        oc.column("reservation_id").doUpdateSet({
          max_wei: sql`spend_reservations.max_wei + excluded.max_wei`,
          expires_at_ms: sql`excluded.expires_at_ms`,
          in_flight_wei: sql`excluded.in_flight_wei`,
        }),
      )
      .returning("reservation_id")
      .executeTakeFirst();
    if (taken) slice.heldWei += amount;
    return taken !== undefined;
  }

  /** Deletes the slices `which` selects and takes what they held out of their keys' `reserved_wei`. */
  async #giveBack(which: RawBuilder<boolean>): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      const rows = await tx
        .deleteFrom("spend_reservations")
        .where(which)
        .returning(["key_id", "max_wei"])
        .execute();
      for (const row of rows)
        await tx
          .updateTable("api_keys")
          .set({ reserved_wei: sql`reserved_wei - ${row.max_wei}` })
          .where("key_id", "=", row.key_id)
          .execute();
    });
  }

  /**
   * Charges every expired reservation (what a crash left open) the maxima it had in flight when its gateway last
   * wrote them down (all of it for a row that has none), and gives the rest back. Returns how many.
   */
  async sweep(): Promise<number> {
    const now = this.#now();
    const swept = await this.#db.transaction().execute(async (tx) => {
      const rows = await tx
        .deleteFrom("spend_reservations")
        .where("expires_at_ms", "<=", BigInt(now))
        .returning(["reservation_id", "key_id", "max_wei", "in_flight_wei"])
        .execute();
      for (const row of rows) {
        const inFlight = row.in_flight_wei ?? row.max_wei;
        // biome-ignore lint/complexity/useMathMinMax: bigints
        const charged = inFlight < row.max_wei ? inFlight : row.max_wei;
        await tx
          .updateTable("api_keys")
          .set({
            reserved_wei: sql`reserved_wei - ${row.max_wei}`,
            spent_wei: sql`spent_wei + ${charged}`,
            updated_at_ms: now,
          })
          .where("key_id", "=", row.key_id)
          .execute();
        // What it charged, for the charges its gateway's journal may still apply (charged past it, not dropped).
        await tx
          .insertInto("swept_slices")
          .values({
            reservation_id: row.reservation_id,
            key_id: row.key_id,
            credit_wei: charged,
            swept_at_ms: now,
          })
          .onConflict((oc) =>
            oc.column("reservation_id").doUpdateSet({
              credit_wei: sql`swept_slices.credit_wei + excluded.credit_wei`,
              swept_at_ms: sql`excluded.swept_at_ms`,
            }),
          )
          .execute();
      }
      await tx
        .deleteFrom("swept_slices")
        .where("swept_at_ms", "<=", BigInt(now - SWEPT_MEMORY_MS))
        .execute();
      return rows;
    });
    if (swept.length > 0)
      this.#logger.warn(
        { reservations: swept.length },
        "charged reservations left open past their time what they had in flight",
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
