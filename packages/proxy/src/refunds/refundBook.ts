import { sql } from "kysely";
import type { Hex } from "viem";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { RefundClaimState } from "../db/schema.js";
import type { ServedStatement } from "./servedStatement.js";

/**
 * Statements kept per node and epoch that the registry confirms (posted in their epoch): they prove nothing, so a few
 * are enough, and a node serving its many posted hashes cannot fill the database with them.
 */
export const MAX_POSTED_PER_NODE_EPOCH = 2;
/**
 * Statements kept per node and epoch that are not posted for it: each is a lie unless the node posts its hash before
 * the epoch ends (gas per hash), so they are never crowded out by honest ones (review S5 F1); this bound only caps
 * what a node paying to post hundreds of hashes after serving them could store.
 */
export const MAX_UNPOSTED_PER_NODE_EPOCH = 256;

/** One refund to claim: a lying statement and one of the gateway's stacks of its node. */
export interface RefundClaim extends ServedStatement {
  stackId: bigint;
  state: RefundClaimState;
  sentBlock: bigint | undefined;
  tries: number;
}

/** A stack whose refunds the chain paid: what it refunded in all, as last read, and what was credited. */
export interface StackCredit {
  stackId: bigint;
  keyId: string | undefined;
  creditedWei: bigint;
}

const statementOf = (row: { node_id: bigint; epoch: bigint; evidence_hash: string; signature: string }) => ({
  nodeId: BigInt(row.node_id),
  epoch: BigInt(row.epoch),
  evidenceHash: row.evidence_hash as Hex,
  signature: row.signature as Hex,
});

const whereClaim = (claim: ServedStatement & { stackId: bigint }) =>
  ({
    node_id: claim.nodeId,
    epoch: claim.epoch,
    evidence_hash: claim.evidenceHash,
    stack_id: claim.stackId,
  }) as const;

/**
 * The statements level-3 nodes served the gateway and the refunds claimed for their lies, in its database (issue 14,
 * C-2): gateways sharing a database share these rows and a wallet, so a claim is taken atomically (`take`) before its
 * transaction goes out, by one of them only, and a row a crash left `sending` is settled from the chain, not resent.
 */
export class RefundBook {
  readonly #db: GatewayDb;
  readonly #now: () => number;

  constructor(db: GatewayDb, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Keeps a statement (a checked one: `servedStatementOf`) with whether the registry has its hash posted in its epoch
   * (`posted`): at most `MAX_POSTED_PER_NODE_EPOCH` posted ones a node and epoch, and `MAX_UNPOSTED_PER_NODE_EPOCH`
   * others, counted under a lock of the node and epoch (gateways sharing the database never exceed them together);
   * and, when it was served on a key's session, the stack's paying key (`notePayer`). True when it is kept.
   */
  async keep(
    statement: ServedStatement,
    posted: boolean,
    payer?: { stackId: bigint; keyId: string },
  ): Promise<boolean> {
    const at = this.#now();
    if (payer) await this.notePayer(payer.stackId, payer.keyId);
    return this.#db.transaction().execute(async (tx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`atoma-statements:${statement.nodeId}:${statement.epoch}`}, 0))`.execute(
        tx,
      );
      const known = await tx
        .selectFrom("served_statements")
        .select(["evidence_hash", "verdict"])
        .where("node_id", "=", statement.nodeId)
        .where("epoch", "=", statement.epoch)
        .execute();
      if (known.some((row) => row.evidence_hash === statement.evidenceHash)) return true;
      const postedRows = await tx
        .selectFrom("served_statements")
        .select(sql<number>`count(*)`.as("n"))
        .where("node_id", "=", statement.nodeId)
        .where("epoch", "=", statement.epoch)
        .where((eb) => eb.or([eb("verdict", "=", "posted"), eb("posted_when_kept", "=", true)]))
        .executeTakeFirstOrThrow();
      const postedCount = Number(postedRows.n);
      const cap = posted ? MAX_POSTED_PER_NODE_EPOCH : MAX_UNPOSTED_PER_NODE_EPOCH;
      if ((posted ? postedCount : known.length - postedCount) >= cap) return false;
      await tx
        .insertInto("served_statements")
        .values({
          node_id: statement.nodeId,
          epoch: statement.epoch,
          evidence_hash: statement.evidenceHash,
          signature: statement.signature,
          verdict: null,
          seen_at_ms: at,
          posted_when_kept: posted,
        })
        .onConflict((oc) => oc.columns(["node_id", "epoch", "evidence_hash"]).doNothing())
        .execute();
      return true;
    });
  }

  /** Records the key that paid for the stack, unless one is recorded already (the first key is credited). */
  async notePayer(stackId: bigint, keyId: string): Promise<void> {
    await this.#db
      .insertInto("stack_refunds")
      .values({ stack_id: stackId, key_id: keyId, credited_wei: 0n, updated_at_ms: this.#now() })
      .onConflict((oc) =>
        oc.column("stack_id").doUpdateSet({ key_id: keyId }).where("stack_refunds.key_id", "is", null),
      )
      .execute();
  }

  /** Whether a statement of the node for the epoch is kept already. */
  async hasStatement(nodeId: bigint, epoch: bigint): Promise<boolean> {
    const row = await this.#db
      .selectFrom("served_statements")
      .select("node_id")
      .where("node_id", "=", nodeId)
      .where("epoch", "=", epoch)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The gateway's stacks of the node still bought to serve after `after` (Unix seconds, the chain's clock). */
  async stacksOfNode(nodeId: bigint, after: bigint): Promise<bigint[]> {
    const rows = await this.#db
      .selectFrom("stacks")
      .select("stack_id")
      .where("node_id", "=", nodeId)
      .where("expires_at", ">", after)
      .orderBy("stack_id")
      .execute();
    return rows.map((row) => BigInt(row.stack_id));
  }

  /** The gateway's stacks serving at `now` (Unix seconds), with their node's URL and signer as bought. */
  async liveStacks(
    now: bigint,
  ): Promise<{ stackId: bigint; nodeId: bigint; nodeUrl: string; nodeSigner: Hex }[]> {
    const rows = await this.#db
      .selectFrom("stacks")
      .select(["stack_id", "node_id", "node_url", "node_signer"])
      .where("expires_at", ">", now)
      .where("state", "!=", "retired")
      .execute();
    return rows.map((row) => ({
      stackId: BigInt(row.stack_id),
      nodeId: BigInt(row.node_id),
      nodeUrl: row.node_url,
      nodeSigner: row.node_signer as Hex,
    }));
  }

  /** Statements not judged yet whose epoch is over (before `currentEpoch`). */
  async unjudged(currentEpoch: bigint): Promise<ServedStatement[]> {
    const rows = await this.#db
      .selectFrom("served_statements")
      .selectAll()
      .where("verdict", "is", null)
      .where("epoch", "<", currentEpoch)
      .execute();
    return rows.map(statementOf);
  }

  /**
   * Judges a statement: `posted` (true) or a lie, whose refunds are then wanted for `stackIds` (the gateway's stacks
   * of the node that may have served during its epoch), in one transaction.
   */
  async judge(
    statement: ServedStatement,
    verdict: "posted" | "lie",
    stackIds: readonly bigint[],
  ): Promise<void> {
    const at = this.#now();
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable("served_statements")
        .set({ verdict })
        .where("node_id", "=", statement.nodeId)
        .where("epoch", "=", statement.epoch)
        .where("evidence_hash", "=", statement.evidenceHash)
        .execute();
      if (verdict === "lie" && stackIds.length > 0)
        await tx
          .insertInto("refund_claims")
          .values(
            stackIds.map((stackId) => ({
              ...whereClaim({ ...statement, stackId }),
              state: "pending" as const,
              tries: 0,
              next_try_ms: at,
              updated_at_ms: at,
            })),
          )
          .onConflict((oc) => oc.columns(["node_id", "epoch", "evidence_hash", "stack_id"]).doNothing())
          .execute();
    });
  }

  /** Claims to send now: pending or recorded, their time come. */
  async due(): Promise<RefundClaim[]> {
    return this.#claims(["pending", "recorded"], this.#now());
  }

  /** Claims left `sending` (a gateway died between its send and its receipt, or one is sending now). */
  async sending(): Promise<RefundClaim[]> {
    return this.#claims(["sending"]);
  }

  /**
   * Takes the claim for sending from block `sentBlock`, atomically: true for the one caller that moved it from the
   * state it was read in; gateways sharing the database never both send it.
   */
  async take(claim: RefundClaim, sentBlock: bigint): Promise<boolean> {
    const result = await this.#db
      .updateTable("refund_claims")
      .set({ state: "sending", sent_block: sentBlock, tries: sql`tries + 1`, updated_at_ms: this.#now() })
      .where((eb) => eb.and(whereClaim(claim)))
      .where("state", "=", claim.state)
      .where("tries", "=", claim.tries)
      .executeTakeFirst();
    return result.numUpdatedRows === 1n;
  }

  /** Moves a claim from `from` to `state` (again at `nextTryMs` for pending and recorded ones). */
  async settle(
    claim: ServedStatement & { stackId: bigint },
    from: RefundClaimState,
    state: RefundClaimState,
    options: { nextTryMs?: number | undefined; reason?: string | undefined } = {},
  ): Promise<void> {
    const at = this.#now();
    await this.#db
      .updateTable("refund_claims")
      .set({
        state,
        next_try_ms: options.nextTryMs ?? at,
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
        updated_at_ms: at,
      })
      .where((eb) => eb.and(whereClaim(claim)))
      .where("state", "=", from)
      .execute();
  }

  /** Every claim of the stack's refunds (for tests and the admin's view). */
  async claimsOf(stackId: bigint): Promise<RefundClaim[]> {
    return (await this.#claims()).filter((claim) => claim.stackId === stackId);
  }

  /** Stacks with a refund the chain paid, and what was credited of them so far. */
  async refundedStacks(): Promise<StackCredit[]> {
    const rows = await this.#db
      .selectFrom("refund_claims")
      .leftJoin("stack_refunds", "stack_refunds.stack_id", "refund_claims.stack_id")
      .select(["refund_claims.stack_id", "stack_refunds.key_id", "stack_refunds.credited_wei"])
      .where("refund_claims.state", "=", "refunded")
      .distinct()
      .execute();
    return rows.map((row) => ({
      stackId: BigInt(row.stack_id),
      keyId: row.key_id ?? undefined,
      creditedWei: BigInt(row.credited_wei ?? 0n),
    }));
  }

  /** The gateway's stack as `refundedStacks` reports it (what was credited of it), or undefined when not its own. */
  async creditOf(stackId: bigint): Promise<StackCredit | undefined> {
    const row = await this.#db
      .selectFrom("stacks")
      .leftJoin("stack_refunds", "stack_refunds.stack_id", "stacks.stack_id")
      .select(["stacks.stack_id", "stack_refunds.key_id", "stack_refunds.credited_wei"])
      .where("stacks.stack_id", "=", stackId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      stackId: BigInt(row.stack_id),
      keyId: row.key_id ?? undefined,
      creditedWei: BigInt(row.credited_wei ?? 0n),
    };
  }

  /** The signer each node of the gateway's stacks was bought with (the latest purchase's), by node id. */
  async nodeSigners(): Promise<Map<bigint, Hex>> {
    const rows = await this.#db
      .selectFrom("stacks")
      .select(["node_id", "node_signer"])
      .orderBy("stack_id")
      .execute();
    return new Map(rows.map((row) => [BigInt(row.node_id), row.node_signer as Hex]));
  }

  /** The next block of the wallet's refund logs to read (undefined: never read). */
  async logCursor(wallet: string): Promise<bigint | undefined> {
    const row = await this.#db
      .selectFrom("refund_log_cursors")
      .select("next_block")
      .where("wallet", "=", wallet.toLowerCase())
      .executeTakeFirst();
    return row ? BigInt(row.next_block) : undefined;
  }

  /** Moves the wallet's log cursor forward (never back: gateways sharing the wallet read the same logs). */
  async moveLogCursor(wallet: string, nextBlock: bigint): Promise<void> {
    await this.#db
      .insertInto("refund_log_cursors")
      .values({ wallet: wallet.toLowerCase(), next_block: nextBlock })
      .onConflict((oc) =>
        oc.column("wallet").doUpdateSet((eb) => ({
          next_block: eb.fn("greatest", [
            eb.ref("refund_log_cursors.next_block"),
            eb.ref("excluded.next_block"),
          ]),
        })),
      )
      .execute();
  }

  /**
   * Credits what the chain refunded the stack in all (`refundedTotal`) beyond what was credited before: taken off the
   * paying key's spend (at most down to zero), in one transaction conditioned on the credited total read, so two
   * gateways crediting at once credit it once. Returns what was credited to the key (0n when none is known: the
   * refund stays the operator's) and what was newly recorded.
   */
  async credit(stack: StackCredit, refundedWei: bigint): Promise<{ recorded: bigint; toKey: bigint }> {
    const delta = refundedWei - stack.creditedWei;
    if (delta <= 0n) return { recorded: 0n, toKey: 0n };
    const at = this.#now();
    return this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto("stack_refunds")
        .values({ stack_id: stack.stackId, key_id: null, credited_wei: 0n, updated_at_ms: at })
        .onConflict((oc) => oc.column("stack_id").doNothing())
        .execute();
      const moved = await tx
        .updateTable("stack_refunds")
        .set({ credited_wei: refundedWei, updated_at_ms: at })
        .where("stack_id", "=", stack.stackId)
        .where("credited_wei", "=", stack.creditedWei)
        .executeTakeFirst();
      if (moved.numUpdatedRows !== 1n) return { recorded: 0n, toKey: 0n };
      if (stack.keyId === undefined) return { recorded: delta, toKey: 0n };
      const key = await tx
        .selectFrom("api_keys")
        .select("spent_wei")
        .where("key_id", "=", stack.keyId)
        .forUpdate()
        .executeTakeFirst();
      if (!key) return { recorded: delta, toKey: 0n };
      const spent = BigInt(key.spent_wei);
      const back = delta < spent ? delta : spent;
      await tx
        .updateTable("api_keys")
        .set((eb) => ({ spent_wei: eb("spent_wei", "-", back), updated_at_ms: at }))
        .where("key_id", "=", stack.keyId)
        .execute();
      return { recorded: delta, toKey: back };
    });
  }

  async #claims(states?: RefundClaimState[], dueBy?: number): Promise<RefundClaim[]> {
    let query = this.#db
      .selectFrom("refund_claims as c")
      .innerJoin("served_statements as s", (join) =>
        join
          .onRef("s.node_id", "=", "c.node_id")
          .onRef("s.epoch", "=", "c.epoch")
          .onRef("s.evidence_hash", "=", "c.evidence_hash"),
      )
      .select([
        "c.node_id",
        "c.epoch",
        "c.evidence_hash",
        "s.signature",
        "c.stack_id",
        "c.state",
        "c.sent_block",
        "c.tries",
      ]);
    if (states) query = query.where("c.state", "in", states);
    if (dueBy !== undefined) query = query.where("c.next_try_ms", "<=", BigInt(dueBy));
    const rows = await query.orderBy("c.next_try_ms").execute();
    return rows.map((row) => ({
      ...statementOf(row),
      stackId: BigInt(row.stack_id),
      state: row.state,
      sentBlock: row.sent_block === null ? undefined : BigInt(row.sent_block),
      tries: row.tries,
    }));
  }
}
