import { costOfUnits } from "@atoma/core";
import { MAX_POSTED_PER_NODE_EPOCH, MAX_UNPOSTED_PER_NODE_EPOCH } from "@atoma/sdk";
import { sql, type Transaction } from "kysely";
import type { Hex } from "viem";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { GatewayDatabase, RefundClaimState } from "../db/schema.js";
import type { ServedStatement } from "./servedStatement.js";
import { splitRefund } from "./splitRefund.js";
import { lockStackCharges } from "./stackChargesLock.js";

/** One refund to claim: a lying statement and one of the gateway's stacks of its node. */
export interface RefundClaim extends ServedStatement {
  stackId: bigint;
  state: RefundClaimState;
  sentBlock: bigint | undefined;
  tries: number;
}

/** A stack whose refunds the chain paid: what was credited of them so far (to its keys, or kept by the operator). */
export interface StackCredit {
  stackId: bigint;
  creditedWei: bigint;
}

/**
 * What one credit of a stack's refunds did: what it newly recorded, and what went to each key (the rest is the
 * operator's). `deferred`: nothing was credited because sealed charges are still held on the stack (tried again later).
 */
export interface CreditOutcome {
  recorded: bigint;
  toKey: bigint;
  toKeys: Map<string, bigint>;
  deferred?: boolean | undefined;
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
   * others (the caps the SDK's `StatementKeeper` keeps too: posted ones never crowd out a lie, review S5 F1), counted under a lock of the node and epoch (gateways sharing the database never exceed them together).
   * True when it is kept.
   */
  async keep(statement: ServedStatement, posted: boolean): Promise<boolean> {
    const at = this.#now();
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
      .select(["refund_claims.stack_id", "stack_refunds.credited_wei"])
      .where("refund_claims.state", "=", "refunded")
      .distinct()
      .execute();
    return rows.map((row) => ({
      stackId: BigInt(row.stack_id),
      creditedWei: BigInt(row.credited_wei ?? 0n),
    }));
  }

  /** The gateway's stack as `refundedStacks` reports it (what was credited of it), or undefined when not its own. */
  async creditOf(stackId: bigint): Promise<StackCredit | undefined> {
    const row = await this.#db
      .selectFrom("stacks")
      .leftJoin("stack_refunds", "stack_refunds.stack_id", "stacks.stack_id")
      .select(["stacks.stack_id", "stack_refunds.credited_wei"])
      .where("stacks.stack_id", "=", stackId)
      .executeTakeFirst();
    if (!row) return undefined;
    return { stackId: BigInt(row.stack_id), creditedWei: BigInt(row.credited_wei ?? 0n) };
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
   * Credits what the chain refunded the stack in all (`refundedTotal`) beyond what was credited before, split among
   * the keys charged on the stack in proportion to their charges there (`splitRefund`: the shares add up to the
   * amount, the remainder going by largest remainder), each key's share taken off its spend but never past what it
   * was charged on the stack (less what it was credited of it before) nor below zero; what no key takes is the
   * operator's — a share a key cannot take (its cap reached, its spend already at zero, the key deleted) is not
   * handed on to the other keys (review L4: no key ever takes more than its own proportion). One transaction
   * conditioned on the credited total read: gateways crediting at once (sharing a database), or a restart crediting
   * again, credit it once. A stack bought before migration 0012 also weighs the key noted then (`owedOf`).
   * A stack with sealed charges still held is not credited (review H1): a held charge weighs its whole reservation,
   * most of which it gets back when it settles, so the split waits until every hold on the stack has settled.
   * A deadlock with another transaction (PostgreSQL 40P01) rolls it all back; the next pass credits it.
   */
  async credit(stack: StackCredit, refundedWei: bigint): Promise<CreditOutcome> {
    const delta = refundedWei - stack.creditedWei;
    const none: CreditOutcome = { recorded: 0n, toKey: 0n, toKeys: new Map() };
    if (delta <= 0n) return none;
    const at = this.#now();
    return this.#db.transaction().execute(async (tx) => {
      // A give-back of a held charge (`SealedCharges`) takes this lock too: the weights read below are never those
      // of a hold settling meanwhile.
      await lockStackCharges(tx, stack.stackId);
      await tx
        .insertInto("stack_refunds")
        .values({ stack_id: stack.stackId, key_id: null, credited_wei: 0n, updated_at_ms: at })
        .onConflict((oc) => oc.column("stack_id").doNothing())
        .execute();
      const noted = await tx
        .selectFrom("stack_refunds")
        .select("key_id")
        .where("stack_id", "=", stack.stackId)
        .executeTakeFirstOrThrow();
      const owed = await owedOf(tx, stack.stackId, noted.key_id);
      // Looked at after the weights are read: a hold committed before that read is seen here (its weight with it).
      const open = await tx
        .selectFrom("sealed_charges")
        .select("nonce")
        .where("stack_id", "=", stack.stackId)
        .limit(1)
        .executeTakeFirst();
      if (open) return { ...none, deferred: true };
      const moved = await tx
        .updateTable("stack_refunds")
        .set({ credited_wei: refundedWei, updated_at_ms: at })
        .where("stack_id", "=", stack.stackId)
        .where("credited_wei", "=", stack.creditedWei)
        .executeTakeFirst();
      if (moved.numUpdatedRows !== 1n) return none;
      const shares = splitRefund(
        delta,
        owed.map((one) => ({ keyId: one.keyId, chargedWei: one.chargedWei })),
      );
      const toKeys = new Map<string, bigint>();
      // Keys in id order: two transactions crediting stacks of the same keys lock them in one order.
      for (const one of owed) {
        const share = shares.get(one.keyId) ?? 0n;
        const room = atMost(share, one.capWei);
        if (room <= 0n) continue;
        const key = await tx
          .selectFrom("api_keys")
          .select("spent_wei")
          .where("key_id", "=", one.keyId)
          .forUpdate()
          .executeTakeFirst();
        if (!key) continue;
        const back = atMost(room, BigInt(key.spent_wei));
        if (back <= 0n) continue;
        await tx
          .updateTable("api_keys")
          .set((eb) => ({ spent_wei: eb("spent_wei", "-", back), updated_at_ms: at }))
          .where("key_id", "=", one.keyId)
          .execute();
        await tx
          .insertInto("stack_refund_credits")
          .values({ stack_id: stack.stackId, key_id: one.keyId, credited_wei: back })
          .onConflict((oc) =>
            oc.columns(["stack_id", "key_id"]).doUpdateSet((eb) => ({
              credited_wei: eb(
                eb.ref("stack_refund_credits.credited_wei"),
                "+",
                eb.ref("excluded.credited_wei"),
              ),
            })),
          )
          .execute();
        toKeys.set(one.keyId, back);
      }
      let toKey = 0n;
      for (const back of toKeys.values()) toKey += back;
      return { recorded: delta, toKey, toKeys };
    });
  }

  /** What each key was credited of the stack's refunds so far, by key id. */
  async creditsOf(stackId: bigint): Promise<Map<string, bigint>> {
    const rows = await this.#db
      .selectFrom("stack_refund_credits")
      .select(["key_id", "credited_wei"])
      .where("stack_id", "=", stackId)
      .execute();
    return new Map(rows.map((row) => [row.key_id, BigInt(row.credited_wei)]));
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

/**
 * The keys a stack's refund is split among, in key id order: those charged on it, each with what it may still be
 * credited (`capWei`: its charge less its credits so far). A stack bought before migration 0012 (review M3) also
 * weighs the key noted then (`legacyKeyId`, its first session's key: the only record of who paid before charges were
 * kept per stack): the stack's used units at its price that the charges recorded since do not explain are counted as
 * that key's charge, on top of any it was charged since, and capped the same way. So it neither drops out when
 * another key is charged 1 wei there, nor takes more than the stack was used for (credits before 0012 were not
 * recorded per key and are not counted).
 */
async function owedOf(
  tx: Transaction<GatewayDatabase>,
  stackId: bigint,
  legacyKeyId: string | null,
): Promise<{ keyId: string; chargedWei: bigint; capWei: bigint }[]> {
  const rows = await tx
    .selectFrom("stack_charges as c")
    .leftJoin("stack_refund_credits as r", (join) =>
      join.onRef("r.stack_id", "=", "c.stack_id").onRef("r.key_id", "=", "c.key_id"),
    )
    .select(["c.key_id", "c.charged_wei", "r.credited_wei"])
    .where("c.stack_id", "=", stackId)
    .where("c.charged_wei", ">", 0n)
    .orderBy("c.key_id")
    .execute();
  const owed = rows.map((row) => ({
    keyId: row.key_id,
    chargedWei: BigInt(row.charged_wei),
    capWei: BigInt(row.charged_wei) - BigInt(row.credited_wei ?? 0n),
  }));
  if (legacyKeyId === null) return owed;
  const stack = await tx
    .selectFrom("stacks")
    .select(["units_used", "price_per_million"])
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  let recorded = 0n;
  for (const one of owed) recorded += one.chargedWei;
  const used = stack ? costOfUnits(BigInt(stack.units_used), BigInt(stack.price_per_million)) : 0n;
  const before = used - recorded;
  if (before <= 0n) return owed;
  const own = owed.find((one) => one.keyId === legacyKeyId);
  if (own) {
    own.chargedWei += before;
    own.capWei += before;
    return owed;
  }
  const credited = await tx
    .selectFrom("stack_refund_credits")
    .select("credited_wei")
    .where("stack_id", "=", stackId)
    .where("key_id", "=", legacyKeyId)
    .executeTakeFirst();
  owed.push({
    keyId: legacyKeyId,
    chargedWei: before,
    capWei: before - BigInt(credited?.credited_wei ?? 0n),
  });
  return owed.sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}

function atMost(value: bigint, bound: bigint): bigint {
  return value < bound ? value : bound;
}
