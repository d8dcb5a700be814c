import { randomUUID } from "node:crypto";
import { leafHash } from "@atoma/core";
import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import {
  NonceOutOfOrderError,
  NonceReusedError,
  RequestInFlightError,
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

/**
 * Compute-unit accounting of the stacks this node serves. Every operation is one database transaction whose
 * conditional UPDATE on the stack row is the only place units move, so concurrent requests can never
 * over-commit a stack (the row lock serialises them; a CHECK constraint backs it up). A stack takes its requests
 * one at a time and in order: the owner's k-th request carries nonce k and becomes leaf k, so a leaf's nonce is
 * its index and no signed request can be billed twice.
 */
export class Accounting {
  readonly #db: NodeDb;
  readonly #metrics: NodeMetrics | undefined;
  readonly #nodeId: bigint;
  readonly #now: () => number;

  constructor(components: AccountingComponents, options: AccountingOptions) {
    this.#db = components.db;
    this.#metrics = components.metrics;
    this.#nodeId = options.nodeId;
    this.#now = options.now ?? Date.now;
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
    const reservation: Reservation = { id: randomUUID(), stackId, units, nonce };
    await this.#db.transaction().execute(async (trx) => {
      const held =
        nonce > MAX_INT64
          ? undefined
          : await trx
              .updateTable("stacks")
              .set((eb) => ({ units_reserved: eb("units_reserved", "+", units), updated_at: sql`now()` }))
              .where("stack_id", "=", stackId)
              .where("serving_node_id", "=", this.#nodeId)
              .where("state", "=", "active")
              .where("expires_at", ">", nowSeconds)
              .where("leaf_count", "=", nonce)
              .where("units_reserved", "=", 0n)
              .where(sql<boolean>`units_bought - units_used - units_reserved >= ${units}`)
              .returning("stack_id")
              .executeTakeFirst();
      if (!held) {
        const row = await trx
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
        throw new StackExhaustedError(stackId, units, row.units_bought - row.units_used - row.units_reserved);
      }
      await trx
        .insertInto("reservations")
        .values({ reservation_id: reservation.id, stack_id: stackId, units })
        .execute();
    });
    this.#metrics?.unitsReserved.inc(Number(units));
    return reservation;
  }

  /**
   * Turns a reservation into the stack's next leaf, in one transaction: the reservation goes, the actual units
   * are added, the leaf gets the next index and the stack's running total. Returns the fields the node signs.
   * When it throws (`ReservationNotFoundError`, or `UnitsExceedReservationError` if usage outgrew both the
   * reservation and the stack), nothing changed and the reservation is still open: release it.
   */
  async commit(reservation: Reservation, leaf: LeafInput): Promise<CommittedLeaf> {
    const units = checkCount("units", leaf.units);
    const reqHash = checkHash("reqHash", leaf.reqHash);
    const respHash = checkHash("respHash", leaf.respHash);
    const seed = checkCount("seed", leaf.seed);
    const request = checkJson("request", leaf.request);
    const response = leaf.response === undefined ? null : checkJson("response", leaf.response);
    const committed = await this.#db.transaction().execute(async (trx) => {
      const held = await trx
        .deleteFrom("reservations")
        .where("reservation_id", "=", reservation.id)
        .returning(["units", "stack_id"])
        .executeTakeFirst();
      if (!held) throw new ReservationNotFoundError(reservation.id);
      const stack = await trx
        .updateTable("stacks")
        .set((eb) => ({
          units_reserved: eb("units_reserved", "-", held.units),
          units_used: eb("units_used", "+", units),
          leaf_count: eb("leaf_count", "+", 1n),
          updated_at: sql`now()`,
        }))
        .where("stack_id", "=", held.stack_id)
        .where(sql<boolean>`units_used + ${units} + units_reserved - ${held.units} <= units_bought`)
        .returning(["units_used", "leaf_count"])
        .executeTakeFirst();
      if (!stack) throw new UnitsExceedReservationError(held.stack_id, held.units, units);
      const leafIndex = stack.leaf_count - 1n;
      // `reserve` let this request in only as the stack's next leaf, alone in flight.
      if (leafIndex !== reservation.nonce)
        throw new ReservationNotFoundError(
          `${reservation.id} (nonce ${reservation.nonce}, leaf ${leafIndex})`,
        );
      const leaf = {
        leafIndex,
        nonce: reservation.nonce,
        reqHash,
        respHash,
        units,
        cumulativeUnits: stack.units_used,
      };
      const hash = leafHash(leaf);
      const fields: CommittedLeaf = { stackId: held.stack_id, ...leaf, seed, leafHash: hash };
      await trx
        .insertInto("leaves")
        .values({
          stack_id: fields.stackId,
          leaf_index: fields.leafIndex,
          req_hash: reqHash,
          resp_hash: respHash,
          leaf_hash: hash,
          units,
          cumulative_units: fields.cumulativeUnits,
          seed,
          nonce: reservation.nonce,
          request,
          response,
        })
        .execute();
      return { fields, reserved: held.units };
    });
    this.#metrics?.unitsReserved.dec(Number(committed.reserved));
    this.#metrics?.unitsUsed.inc(Number(units));
    return committed.fields;
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
        .set((eb) => ({ units_reserved: eb("units_reserved", "-", held.units), updated_at: sql`now()` }))
        .where("stack_id", "=", held.stack_id)
        .execute();
      return held.units;
    });
    if (released === undefined) return false;
    this.#metrics?.unitsReserved.dec(Number(released));
    return true;
  }
}
