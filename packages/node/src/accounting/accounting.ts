import { randomUUID } from "node:crypto";
import { leafHash } from "@atoma/core";
import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { SqliteConnection } from "../db/sqlite/libsqlDialect.js";
import { sqliteConnectionOf } from "../db/sqlite/openSqlite.js";
import type { WalSync } from "../db/sqlite/walSync.js";
import {
  LeafDeniedError,
  NonceOutOfOrderError,
  NonceReusedError,
  RequestInFlightError,
  ReservationLostError,
  ReservationNotFoundError,
  StackClosedError,
  StackExhaustedError,
  StackExpiredError,
  StackNotServedError,
  UnitsExceedReservationError,
  UnknownStackError,
} from "../errors.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import { checkCount, checkHash, checkJson, checkUint256 } from "./checks.js";
import { isDenied, recordDenial } from "./deniedLeaves.js";
import { type LiveStacks, liveStacksOf } from "./liveStacks.js";
import { commitOnSqlite, holdOnSqlite } from "./sqliteHotPath.js";
import type { CommittedLeaf, LeafInput, Reservation, ReserveInput } from "./types.js";

export interface AccountingComponents {
  db: NodeDb;
  metrics?: NodeMetrics | undefined;
}

export interface AccountingOptions {
  /** This node's on-chain id: stacks served by another node are refused. */
  nodeId: bigint;
  /** Current time in milliseconds, for expiry. @default Date.now */
  now?: (() => number) | undefined;
}

const MAX_INT64 = (1n << 63n) - 1n;

interface CommitValues {
  units: bigint;
  reqHash: string;
  respHash: string;
  hash: string;
  seed: bigint;
  request: string;
  response: string | null;
}

interface CommitRow {
  outcome: string;
  stack_id: bigint | null;
  held_units: bigint | null;
}

/**
 * Compute-unit accounting of the stacks this node serves. Every operation is one database transaction whose
 * conditional UPDATE on the stack row is the only place units move, so concurrent requests can never
 * over-commit a stack (the row lock serialises them; a CHECK constraint backs it up). A stack takes its requests
 * one at a time and in order: the owner's k-th request carries nonce k and becomes leaf k, so a leaf's nonce is
 * its index and no signed request can be billed twice.
 */
export class Accounting {
  readonly #db: NodeDb;
  /** Set on SQLite: the hot path runs there as synchronous transactions (`sqliteHotPath.ts`). */
  readonly #sqlite: SqliteConnection | undefined;
  readonly #metrics: NodeMetrics | undefined;
  readonly #nodeId: bigint;
  readonly #now: () => number;
  /** SQLite under `synchronous = normal`: syncs the log off the thread (`walSync.ts`). */
  readonly #wal: WalSync | undefined;
  /** With `#wal`: the stacks whose latest leaves may not be on disk yet (`liveStacks.ts`). */
  readonly #live: LiveStacks | undefined;
  /** The reservations open in this process on a live stack; each is ended once. */
  readonly #open = new WeakSet<Reservation>();
  /** Reservations this process committed or released: one not found later was not lost by the database. */
  readonly #finished = new WeakSet<Reservation>();
  /**
   * Stacks with a leaf denial recorded (`denied_leaves`), read once from the database, then told of each new one
   * (`denying`): a commit on any other stack skips the check, so the hot path keeps its one statement.
   */
  #deniedStacks: Promise<Set<bigint>> | undefined;

  constructor(components: AccountingComponents, options: AccountingOptions) {
    this.#db = components.db;
    this.#sqlite = sqliteConnectionOf(components.db);
    this.#metrics = components.metrics;
    this.#nodeId = options.nodeId;
    this.#now = options.now ?? Date.now;
    this.#live = this.#sqlite && liveStacksOf(this.#sqlite);
    this.#wal = this.#live && this.#sqlite?.wal;
  }

  /**
   * Holds `units` of the stack for its next request, whose nonce must be the stack's next leaf index, while no
   * other request is in flight on it. Throws `UnknownStackError`, `StackNotServedError`, `StackClosedError`,
   * `StackExpiredError`, `NonceReusedError` (a leaf has that nonce already), `NonceOutOfOrderError` (with the
   * nonce expected), `RequestInFlightError` or `StackExhaustedError` (with what is left); nothing is held when it
   * throws, and a request that fails before committing leaves its nonce free for the owner's next request.
   */
  async reserve(input: ReserveInput): Promise<Reservation> {
    const stackId = checkUint256("stackId", input.stackId);
    const units = checkCount("units", input.units, true);
    const nonce = checkUint256("nonce", input.nonce);
    const nowSeconds = BigInt(Math.floor(this.#now() / 1000));
    const id = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const usedBefore =
        nonce > MAX_INT64 ? undefined : await this.#hold(id, stackId, units, nonce, nowSeconds);
      if (usedBefore !== undefined) {
        this.#metrics?.unitsReserved.inc(Number(units));
        const reservation = { id, stackId, units, nonce, unitsUsedBefore: usedBefore };
        this.#opened(reservation);
        if (input.reqHash !== undefined) await this.#refuseDenied(reservation, input.reqHash);
        return reservation;
      }
      await this.#refuse(stackId, units, nonce, nowSeconds);
      // The row, read after the update, allows the request: the one in flight finished in between. Once more.
      if (attempt > 0) throw new RequestInFlightError(stackId);
    }
  }

  /**
   * One statement (one round trip, atomic on its own): the stack row's conditional update, and the reservation
   * row only where it held. The stack's units used, or undefined when it did not hold.
   */
  async #hold(
    id: string,
    stackId: bigint,
    units: bigint,
    nonce: bigint,
    nowSeconds: bigint,
  ): Promise<bigint | undefined> {
    if (this.#sqlite)
      return holdOnSqlite(this.#sqlite, { id, stackId, nodeId: this.#nodeId, units, nonce, nowSeconds });
    // The reservation commits without waiting for its own flush (the leaf's synchronous commit flushes the log
    // past it before any receipt goes out; a reservation lost to a database crash is one never answered on).
    const { rows } = await sql<{ units_used: bigint }>`with relaxed as (
        select set_config('synchronous_commit', 'off', true)
      ), held as (
        update stacks set units_reserved = units_reserved + ${units}::bigint, updated_at = now()
        where stack_id = ${stackId}::numeric and serving_node_id = ${this.#nodeId}::numeric
          and state = 'active' and expires_at > ${nowSeconds}::bigint and leaf_count = ${nonce}::bigint
          and units_reserved = 0 and units_bought - units_used - units_reserved >= ${units}::bigint
        returning stack_id, units_used
      ), reserved as (
        insert into reservations (reservation_id, stack_id, units)
        select ${id}::text, stack_id, ${units}::bigint from held
      )
      select units_used from held, relaxed`.execute(this.#db);
    return rows[0]?.units_used;
  }

  /** A reservation on a live stack (`liveStacks.ts`) is counted until it is committed or released. */
  #opened(reservation: Reservation): void {
    if (this.#live) this.#open.add(reservation);
  }

  #ended(reservation: Reservation): void {
    if (this.#open.delete(reservation)) this.#live?.ended(reservation.stackId);
  }

  /** Why `reserve` held nothing, from the stack row read after: throws, or returns if the row allows it now. */
  async #refuse(stackId: bigint, units: bigint, nonce: bigint, nowSeconds: bigint): Promise<void> {
    const row = await this.#db
      .selectFrom("stacks")
      .selectAll()
      .where("stack_id", "=", stackId)
      .executeTakeFirst();
    if (!row) throw new UnknownStackError(stackId);
    if (row.serving_node_id !== this.#nodeId) throw new StackNotServedError(stackId);
    if (row.state !== "active") throw new StackClosedError(stackId, row.state);
    if (row.expires_at <= nowSeconds) throw new StackExpiredError(stackId);
    if (nonce < row.leaf_count) throw new NonceReusedError(stackId, nonce, row.leaf_count);
    if (row.units_reserved > 0n) throw new RequestInFlightError(stackId);
    if (nonce > row.leaf_count) throw new NonceOutOfOrderError(stackId, nonce, row.leaf_count);
    const left = row.units_bought - row.units_used - row.units_reserved;
    if (left < units) throw new StackExhaustedError(stackId, units, left);
  }

  /**
   * Turns a reservation into the stack's next leaf, in one statement (the `commit_leaf` function): the
   * reservation goes, the actual units are added, the leaf gets the reservation's index and the stack's running
   * total, which is known before the call because no other leaf can be added while the reservation is held.
   * Returns the fields the node signs. When it throws (`ReservationNotFoundError`, or
   * `UnitsExceedReservationError` if usage outgrew both the reservation and the stack), nothing changed and the
   * reservation, if it was still open, still is: release it.
   */
  async commit(reservation: Reservation, leaf: LeafInput): Promise<CommittedLeaf> {
    // No receipt of a live stack goes out before its row is on disk; usually long done by now (`liveStacks.ts`).
    await this.#live?.synced(reservation.stackId);
    const units = checkCount("units", leaf.units);
    const reqHash = checkHash("reqHash", leaf.reqHash);
    const respHash = checkHash("respHash", leaf.respHash);
    const seed = checkCount("seed", leaf.seed);
    const request = leaf.recorded?.request ?? checkJson("request", leaf.request);
    const response =
      leaf.response === undefined ? null : (leaf.recorded?.response ?? checkJson("response", leaf.response));
    const fields = {
      leafIndex: reservation.nonce,
      nonce: reservation.nonce,
      reqHash,
      respHash,
      units,
      cumulativeUnits: reservation.unitsUsedBefore + units,
    };
    // A request this node denied at this nonce (its signed `AtomaLeafDenial`) is never committed there: that leaf
    // would be slashed as fraud. Asked once the reservation is held, so a denial recorded later sees it in flight.
    if (
      (await this.#stacksWithDenials()).has(reservation.stackId) &&
      (await isDenied(this.#db, reservation.stackId, reservation.nonce, reqHash))
    )
      throw new LeafDeniedError(reservation.stackId, reservation.nonce, reqHash);
    const hash = leafHash(fields);
    const row = this.#sqlite
      ? await this.#commitOnSqlite(this.#sqlite, reservation, {
          units,
          reqHash,
          respHash,
          hash,
          seed,
          request,
          response,
        })
      : await this.#commitOnPostgres(reservation, {
          units,
          reqHash,
          respHash,
          hash,
          seed,
          request,
          response,
        });
    if (row?.outcome === "over") throw new UnitsExceedReservationError(row.stack_id!, row.held_units!, units);
    if (row?.outcome === "moved")
      throw new ReservationNotFoundError(
        `${reservation.id} (nonce ${reservation.nonce}: the stack moved on)`,
      );
    if (row?.outcome !== "committed") throw await this.#missing(reservation);
    this.#metrics?.unitsReserved.dec(Number(row.held_units));
    this.#metrics?.unitsUsed.inc(Number(units));
    // The leaf is synced while its answer goes out, not before: see docs/node-hot-path.md for what that risks.
    this.#wal?.sync().catch(() => {});
    this.#finished.add(reservation);
    this.#ended(reservation);
    return { stackId: row.stack_id!, ...fields, seed, leafHash: hash };
  }

  /**
   * Records a denial of request `reqHash` at `nonce` of the stack (`denied_leaves`), its stack flagged first: a commit
   * that missed the flag ran before the record, so its request is in flight or committed when the caller looks next.
   */
  async recordDenial(stackId: bigint, nonce: bigint, reqHash: string): Promise<void> {
    (await this.#stacksWithDenials()).add(stackId);
    await recordDenial(this.#db, stackId, nonce, reqHash);
  }

  /**
   * Releases the reservation and throws `LeafDeniedError` when this node denied `reqHash` at its nonce: checked once
   * the nonce is held, so a denial recorded later finds it in flight, and one recorded before is seen here.
   */
  async #refuseDenied(reservation: Reservation, reqHash: string): Promise<void> {
    let denied: boolean;
    try {
      denied =
        (await this.#stacksWithDenials()).has(reservation.stackId) &&
        (await isDenied(this.#db, reservation.stackId, reservation.nonce, reqHash));
    } catch (error) {
      await this.release(reservation);
      throw error;
    }
    if (!denied) return;
    await this.release(reservation);
    throw new LeafDeniedError(reservation.stackId, reservation.nonce, reqHash);
  }

  #stacksWithDenials(): Promise<Set<bigint>> {
    this.#deniedStacks ??= this.#db
      .selectFrom("denied_leaves")
      .select("stack_id")
      .distinct()
      .execute()
      .then((rows) => new Set(rows.map((row) => BigInt(row.stack_id))))
      .catch((error: unknown) => {
        // Read again at the next commit: a failed read never stands for "no denials".
        this.#deniedStacks = undefined;
        throw error;
      });
    return this.#deniedStacks;
  }

  /** A reservation not found: lost by the database if its stack is still active (retryable), else closed. */
  async #missing(reservation: Reservation): Promise<Error> {
    if (this.#finished.has(reservation)) return new ReservationNotFoundError(reservation.id);
    const stack = await this.#db
      .selectFrom("stacks")
      .select("state")
      .where("stack_id", "=", reservation.stackId)
      .executeTakeFirst();
    return stack?.state === "active"
      ? new ReservationLostError(reservation.stackId)
      : new ReservationNotFoundError(reservation.id);
  }

  async #commitOnSqlite(sqlite: SqliteConnection, reservation: Reservation, leaf: CommitValues) {
    const done = await commitOnSqlite(sqlite, {
      reservationId: reservation.id,
      usedBefore: reservation.unitsUsedBefore,
      units: leaf.units,
      nonce: reservation.nonce,
      reqHash: leaf.reqHash,
      respHash: leaf.respHash,
      leafHash: leaf.hash,
      seed: leaf.seed,
      request: leaf.request,
      response: leaf.response,
    });
    return "stackId" in done
      ? { outcome: done.outcome, stack_id: done.stackId, held_units: done.heldUnits }
      : { outcome: done.outcome, stack_id: null, held_units: null };
  }

  async #commitOnPostgres(reservation: Reservation, leaf: CommitValues): Promise<CommitRow | undefined> {
    const { units, reqHash, respHash, hash, seed, request, response } = leaf;
    const { rows } = await sql<CommitRow>`
      select o_outcome as outcome, o_stack_id as stack_id, o_held_units as held_units
      from commit_leaf(${reservation.id}::text, ${reservation.unitsUsedBefore}::bigint, ${units}::bigint,
        ${reservation.nonce}::numeric, ${reqHash}::text, ${respHash}::text, ${hash}::text, ${seed}::bigint,
        ${request}::text, ${response}::text)`.execute(this.#db);
    return rows[0];
  }

  /**
   * Records a nonce on a stack served by this node, for signed messages that use no units (an owner asking to
   * settle, say). Throws `UnknownStackError`, `StackNotServedError` or `NonceReusedError`.
   */
  async useNonce(input: { stackId: bigint; nonce: bigint; deadline?: bigint | undefined }): Promise<void> {
    const stackId = checkUint256("stackId", input.stackId);
    const nonce = checkUint256("nonce", input.nonce);
    const deadline = checkCount("deadline", input.deadline ?? 0n);
    await this.#db.transaction().execute(async (trx) => {
      const stack = await trx
        .selectFrom("stacks")
        .select("serving_node_id")
        .where("stack_id", "=", stackId)
        .executeTakeFirst();
      if (!stack) throw new UnknownStackError(stackId);
      if (stack.serving_node_id !== this.#nodeId) throw new StackNotServedError(stackId);
      const fresh = await trx
        .insertInto("request_nonces")
        .values({ stack_id: stackId, nonce, deadline })
        .onConflict((oc) => oc.columns(["stack_id", "nonce"]).doNothing())
        .returning("nonce")
        .executeTakeFirst();
      if (!fresh) throw new NonceReusedError(stackId, nonce);
    });
  }

  /** Gives a reservation's units back (on any failure). Idempotent: false when it was no longer open. */
  async release(reservation: Reservation): Promise<boolean> {
    const released = await this.#db.transaction().execute(async (trx) => {
      const held = await trx
        .deleteFrom("reservations")
        .where("reservation_id", "=", reservation.id)
        .returning(["units", "stack_id"])
        .executeTakeFirst();
      if (!held) return undefined;
      await trx
        .updateTable("stacks")
        .set((eb) => ({
          units_reserved: eb("units_reserved", "-", held.units),
          updated_at: sql`current_timestamp`,
        }))
        .where("stack_id", "=", held.stack_id)
        .execute();
      return held.units;
    });
    this.#finished.add(reservation);
    this.#ended(reservation);
    if (released === undefined) return false;
    this.#metrics?.unitsReserved.dec(Number(released));
    return true;
  }
}
