import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";

/** Pending requests whose first deadline is remembered in memory before the oldest is forgotten. */
const MAX_REMEMBERED = 10_000;

/** A first deadline noted longer ago than this is dropped when another is noted (a stack lives at most days). */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

/** A pending request as signed: its stack's nonce, its hash, and the deadline it carries now. */
export interface SignedAtNonce {
  nonce: bigint;
  reqHash: string;
  deadline: bigint;
}

/**
 * The deadline each pending request (`stackId:nonce`, with its hash) carried at the node's first 409
 * `request_in_flight` for it (review 4 of h-gw, MEDIUM-A): the in-flight strike counts from it, never from a deadline
 * the request was signed again with after (review 3 of h-gw, HIGH-3). Kept in the gateway's database when it has one
 * (`first_deadlines`), so a restart between the node's 409s moves nothing and gateways sharing a PostgreSQL see the
 * same first deadline; in memory (bounded) otherwise. Only the 409 path reads or writes the database, and a database
 * error there never fails it (told to `onError`; the deadline remembered in memory is used): the node is still failed
 * over from and struck.
 */
export class FirstDeadlines {
  readonly #db: Kysely<GatewayDatabase> | undefined;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #memory = new Map<string, { reqHash: string; deadline: bigint }>();

  constructor(
    db: Kysely<GatewayDatabase> | undefined,
    onError: (error: unknown) => void,
    now: () => number = Date.now,
  ) {
    this.#db = db;
    this.#onError = onError;
    this.#now = now;
  }

  /** Keeps `signed`'s deadline unless one was kept already for the same request at its nonce. */
  async note(stackId: bigint, signed: SignedAtNonce): Promise<void> {
    const reqHash = signed.reqHash.toLowerCase();
    const key = `${stackId}:${signed.nonce}`;
    const known = this.#memory.get(key)?.reqHash === reqHash;
    if (!known) this.#memory.set(key, { reqHash, deadline: signed.deadline });
    if (this.#memory.size > MAX_REMEMBERED) this.#memory.delete(this.#memory.keys().next().value as string);
    if (this.#db === undefined || known) return;
    await this.#noteIn(this.#db, stackId, reqHash, signed).catch(this.#onError);
  }

  async #noteIn(
    db: Kysely<GatewayDatabase>,
    stackId: bigint,
    reqHash: string,
    signed: SignedAtNonce,
  ): Promise<void> {
    const now = this.#now();
    // Another request at the nonce (its leaf freed, signed afresh) starts its own count.
    await db
      .insertInto("first_deadlines")
      .values({
        stack_id: stackId,
        nonce: signed.nonce,
        req_hash: reqHash,
        deadline: signed.deadline,
        noted_at_ms: now,
      })
      .onConflict((c) =>
        c
          .columns(["stack_id", "nonce"])
          .doUpdateSet((eb) => ({
            req_hash: eb.ref("excluded.req_hash"),
            deadline: eb.ref("excluded.deadline"),
            noted_at_ms: eb.ref("excluded.noted_at_ms"),
          }))
          .where("first_deadlines.req_hash", "<>", reqHash),
      )
      .execute();
    await db
      .deleteFrom("first_deadlines")
      .where("noted_at_ms", "<", BigInt(now - FORGET_AFTER_MS))
      .execute();
  }

  /** The earliest deadline `signed`'s request carried at its nonce, as far as the gateway saw. */
  async first(stackId: bigint, signed: SignedAtNonce): Promise<bigint> {
    const reqHash = signed.reqHash.toLowerCase();
    const remembered = this.#memory.get(`${stackId}:${signed.nonce}`);
    const kept =
      this.#db === undefined
        ? remembered
        : await this.#db
            .selectFrom("first_deadlines")
            .select(["req_hash as reqHash", "deadline"])
            .where("stack_id", "=", stackId)
            .where("nonce", "=", signed.nonce)
            .executeTakeFirst()
            .catch((error: unknown) => {
              this.#onError(error);
              return remembered;
            });
    return kept?.reqHash === reqHash && kept.deadline < signed.deadline ? kept.deadline : signed.deadline;
  }

  /**
   * Forgets the request at `nonce` (its receipt came, its stack was retired, its nonce freed). A statement only for one
   * this process noted, unless `evenIfUnseen` (its nonce freed, to be signed afresh): receipts come on the request
   * path. One noted by another process and not freed stays until it is old (its nonce is spent).
   */
  async forget(stackId: bigint, nonce: bigint, evenIfUnseen = false): Promise<void> {
    if (!this.#memory.delete(`${stackId}:${nonce}`) && !evenIfUnseen) return;
    await this.#db
      ?.deleteFrom("first_deadlines")
      .where("stack_id", "=", stackId)
      .where("nonce", "=", nonce)
      .execute()
      .catch(this.#onError);
  }
}
