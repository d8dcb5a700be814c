import { randomUUID } from "node:crypto";
import { type ChainContext, getStack } from "@atoma/chain";
import { type Logger, silentLogger } from "@atoma/core";
import { boughtStack, type KeptReceipt } from "@atoma/sdk";
import { type ExpressionBuilder, type Selectable, sql } from "kysely";
import type { Address } from "viem";
import { applyJournalRecord } from "../db/applyJournal.js";
import type { ReceiptRecord, StackRecord } from "../db/journal.js";
import type { JournalFlusher } from "../db/journalFlusher.js";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { GatewayDatabase, StacksTable } from "../db/schema.js";
import { NoNodeAvailableError } from "../errors.js";
import type { CatalogModel } from "./catalog.js";
import { receiptFromRow, receiptToRow } from "./receiptRows.js";

/** A stack of the gateway's wallet, leased to one request (a stack takes one request at a time, in order). */
export interface LeasedStack {
  stackId: bigint;
  modelId: string;
  taskId: bigint;
  nodeId: bigint;
  nodeUrl: string;
  nodeSigner: Address;
  units: bigint;
  pricePerMillion: bigint;
  nextNonce: bigint;
  leaseId: string;
  /** Bought for this request: its node may not have seen it on the chain yet. */
  fresh: boolean;
}

/** What the stack's receipts say after a request. */
export interface StackProgress {
  unitsUsed: bigint;
  nextNonce: bigint;
}

export interface StackPoolOptions {
  /** Units each stack bought holds. @default 1000000 */
  unitsPerStack?: bigint | undefined;
  /** The highest price per million units the gateway buys at (wei of TOMA). */
  maxPricePerMillion: bigint;
  /** Seconds a stack bought lasts. @default 3600 */
  durationSeconds?: bigint | undefined;
  /** Stacks the pool holds per model at most; more requests at once wait for one. @default 8 */
  maxStacksPerModel?: number | undefined;
  /** Buy only on tasks of this security level (default: the highest the model offers, then the next). */
  securityLevel?: number | undefined;
  /** A lease its request never gave back (a crash) is free again after this long. @default 600000 */
  leaseMs?: number | undefined;
  /** How long a request waits for a stack when every stack of its model is in use. @default 30000 */
  waitMs?: number | undefined;
  /** A stack within this many seconds of expiry takes no new request (the node settles it). @default 600 */
  expiryMarginSeconds?: bigint | undefined;
  now?: (() => number) | undefined;
}

/** A stack this process holds. */
interface HeldStack {
  row: Selectable<StacksTable>;
  unitsUsed: bigint;
  nextNonce: bigint;
  last: KeptReceipt | undefined;
  /** Leased to a request now. */
  busy: boolean;
  /** On the pool's clock (`now`): which stack was used longest ago. */
  lastUsedMs: number;
  /** On the process's clock: how long it has been idle. */
  idleSince: number;
}

interface PoolSettings {
  unitsPerStack: bigint;
  maxPricePerMillion: bigint;
  durationSeconds: bigint;
  maxStacksPerModel: number;
  securityLevel: number | undefined;
  leaseMs: number;
  waitMs: number;
  expiryMarginSeconds: bigint;
  now: () => number;
}

/**
 * The stacks the gateway's wallet holds, per model and node, in the gateway's database: a request leases an idle
 * stack with enough units left at the node it should go to, or the pool buys one (the chain draws its node among
 * the task's subscribers), or the request waits for one to be given back. Purchases are serialised (one wallet).
 */
export class StackPool {
  readonly #db: GatewayDb;
  readonly #chain: ChainContext;
  readonly #logger: Logger;
  readonly #o: PoolSettings;
  #buying: Promise<unknown> = Promise.resolve();
  readonly #waiting = new Set<() => void>();

  /** The stacks this process holds (one process holds a stack at a time), with their progress and last receipt. */
  readonly #held = new Map<bigint, HeldStack>();
  readonly #journal: JournalFlusher | undefined;
  /** Who holds a stack (`lease_id`): the gateway's id, so a restart takes back what it held. */
  readonly holderId: string;

  constructor(
    components: {
      db: GatewayDb;
      chain: ChainContext;
      logger?: Logger | undefined;
      /** Where receipts and progress go before the client is answered; none: straight to the database. */
      journal?: JournalFlusher | undefined;
    },
    options: StackPoolOptions,
  ) {
    this.#db = components.db;
    this.#journal = components.journal;
    this.holderId = components.journal?.gatewayId ?? randomUUID();
    this.#chain = components.chain;
    this.#logger = (components.logger ?? silentLogger).child({ module: "stack-pool" });
    this.#o = {
      unitsPerStack: options.unitsPerStack ?? 1_000_000n,
      maxPricePerMillion: options.maxPricePerMillion,
      durationSeconds: options.durationSeconds ?? 3_600n,
      maxStacksPerModel: options.maxStacksPerModel ?? 8,
      securityLevel: options.securityLevel,
      leaseMs: options.leaseMs ?? 600_000,
      waitMs: options.waitMs ?? 30_000,
      expiryMarginSeconds: options.expiryMarginSeconds ?? 600n,
      now: options.now ?? Date.now,
    };
  }

  get maxPricePerMillion(): bigint {
    return this.#o.maxPricePerMillion;
  }

  /**
   * A stack for one request needing `units` on a node serving `model`: an idle one in the first tier of
   * `preferred` (nodes ranked best first, equals grouped) that has one, the one used longest ago among a tier's
   * (default: any eligible node), else a new one when the model's pool has room (the chain
   * draws its node, which may be outside `preferred`: the caller decides), else the first given back. Throws
   * `NoNodeAvailableError` when none can be had (no eligible node, the purchase failed, or every stack stayed busy
   * for `waitMs`).
   */
  async lease(
    model: CatalogModel,
    units: bigint,
    preferred?: readonly (readonly bigint[])[],
  ): Promise<LeasedStack> {
    if (units > this.#o.unitsPerStack)
      throw new NoNodeAvailableError(`the request may use ${units} units, more than a stack holds`, 60);
    const eligible = this.#eligibleNodes(model);
    const tiers = (preferred ?? [eligible]).map((tier) => tier.filter((id) => eligible.includes(id)));
    const nodeIds = tiers.flat();
    if (nodeIds.length === 0)
      throw new NoNodeAvailableError("no node serves the model now at the gateway's price");
    // Waiting is measured on the process's own clock: `now` tells stack expiry, and tests may hold it still.
    const giveUpAt = performance.now() + this.#o.waitMs;
    for (;;) {
      const claimed = await this.#claim(model, tiers, units);
      if (claimed) return claimed;
      const bought = await this.#buyIfRoom(model, tiers, eligible, units);
      if (bought) return this.#held.has(bought.stackId) ? bought : this.#adopt(bought);
      const left = giveUpAt - performance.now();
      if (left <= 0) throw new NoNodeAvailableError("every stack of the model is in use: retry shortly", 1);
      await this.#waitForRelease(Math.min(left, 250));
    }
  }

  /** Gives the stack back (to this process: it stays held) with what its last receipt says. */
  async release(stack: LeasedStack, progress: StackProgress | undefined): Promise<void> {
    const held = this.#held.get(stack.stackId);
    if (held) {
      held.busy = false;
      held.lastUsedMs = this.#o.now();
      held.idleSince = performance.now();
      if (progress && progress.unitsUsed > held.unitsUsed) held.unitsUsed = progress.unitsUsed;
      if (progress && progress.nextNonce > held.nextNonce) held.nextNonce = progress.nextNonce;
    }
    this.#wakeWaiters();
    if (progress)
      await this.#record({
        kind: "stack",
        stackId: String(stack.stackId),
        unitsUsed: String(progress.unitsUsed),
        nextNonce: String(progress.nextNonce),
        atMs: this.#o.now(),
      });
  }

  /** Takes the stack out of use for good (its node refused it: spent, closed, expired, or not its own). */
  async retire(stack: LeasedStack, reason: string): Promise<void> {
    this.#held.delete(stack.stackId);
    await this.#db
      .updateTable("stacks")
      .set({ state: "retired", lease_id: null, leased_until_ms: null })
      .where("stack_id", "=", stack.stackId)
      .execute();
    this.#logger.info(
      { stackId: String(stack.stackId), nodeId: String(stack.nodeId), reason },
      "stack retired",
    );
    this.#wakeWaiters();
  }

  /** Keeps a receipt the node signed (evidence, and where the stack's running total goes on). */
  async keepReceipt(receipt: KeptReceipt): Promise<void> {
    const held = this.#held.get(receipt.fields.stackId);
    if (held && (!held.last || receipt.fields.leafIndex > held.last.fields.leafIndex)) held.last = receipt;
    await this.#record({ kind: "receipt", receipt: receiptToRow(receipt), atMs: this.#o.now() });
  }

  /** The receipt of the stack's highest leaf the gateway holds. */
  async lastReceipt(stackId: bigint): Promise<KeptReceipt | undefined> {
    const held = this.#held.get(stackId);
    return held ? held.last : this.#lastStored(stackId);
  }

  /**
   * Keeps this process's stacks its own for another `leaseMs`, and hands back to the database those idle for
   * `idleMs` (other gateways may lease them then), their progress applied first.
   */
  async renewHolds(idleMs: number): Promise<void> {
    const idle = [...this.#held.values()].filter((h) => !h.busy && performance.now() - h.idleSince >= idleMs);
    if (idle.length > 0) {
      await this.#journal?.flush();
      const ids = idle.filter((h) => !h.busy).map((h) => h.row.stack_id);
      for (const id of ids) this.#held.delete(id);
      if (ids.length > 0)
        await this.#db
          .updateTable("stacks")
          .set({ state: "idle", lease_id: null, leased_until_ms: null })
          .where("stack_id", "in", ids)
          .where("lease_id", "=", this.holderId)
          .where("state", "=", "leased")
          .execute();
    }
    await this.#db
      .updateTable("stacks")
      .set({ leased_until_ms: this.#o.now() + this.#o.leaseMs })
      .where("lease_id", "=", this.holderId)
      .where("state", "=", "leased")
      .execute();
  }

  /** Hands back every stack an earlier run of this gateway held (after its journal was replayed). */
  async recover(): Promise<number> {
    const { numUpdatedRows } = await this.#db
      .updateTable("stacks")
      .set({ state: "idle", lease_id: null, leased_until_ms: null })
      .where("lease_id", "=", this.holderId)
      .where("state", "=", "leased")
      .executeTakeFirst();
    return Number(numUpdatedRows);
  }

  /** A receipt or a stack's progress: journaled (applied later), or applied now. */
  async #record(record: ReceiptRecord | StackRecord): Promise<void> {
    if (this.#journal) this.#journal.journal.append(record);
    else await applyJournalRecord(this.#db, record);
  }

  async #lastStored(stackId: bigint): Promise<KeptReceipt | undefined> {
    const row = await this.#db
      .selectFrom("receipts")
      .select("receipt")
      .where("stack_id", "=", stackId)
      .orderBy("leaf_index", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && receiptFromRow(row.receipt);
  }

  /** Holds a stack just bought (inserted leased by the purchase): it becomes this process's. */
  async #adopt(stack: LeasedStack): Promise<LeasedStack> {
    const row = await this.#db
      .updateTable("stacks")
      .set({ lease_id: this.holderId, leased_until_ms: this.#o.now() + this.#o.leaseMs })
      .where("stack_id", "=", stack.stackId)
      .returningAll()
      .executeTakeFirstOrThrow();
    this.#hold(row, undefined);
    return { ...stack, leaseId: this.holderId };
  }

  #hold(row: Selectable<StacksTable>, last: KeptReceipt | undefined): HeldStack {
    const held: HeldStack = {
      row,
      unitsUsed: row.units_used,
      nextNonce: row.next_nonce,
      last,
      busy: true,
      lastUsedMs: Number(row.last_used_ms ?? 0n),
      idleSince: performance.now(),
    };
    this.#held.set(row.stack_id, held);
    return held;
  }

  #eligibleNodes(model: CatalogModel): bigint[] {
    const ids = new Set<bigint>();
    for (const task of model.tasks)
      for (const node of task.nodes)
        if (node.pricePerMillion <= this.#o.maxPricePerMillion) ids.add(node.nodeId);
    return [...ids];
  }

  /**
   * Leases an idle stack this process holds, else takes one from the database (idle, or a hold a crash left) to
   * hold; in the first tier of nodes that has one, and within a tier the stack used longest ago (spreading
   * requests over equal nodes).
   */
  async #claim(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    units: bigint,
  ): Promise<LeasedStack | undefined> {
    const tierOf = (nodeId: bigint) => tiers.findIndex((tier) => tier.includes(nodeId));
    const held = this.#bestHeld(model, tiers, units);
    // One of the database's in a better tier than the best held goes first (none better: no statement).
    const better = held ? tiers.slice(0, tierOf(held.row.node_id)) : tiers;
    const taken = better.length > 0 ? await this.#claimStored(model, better, units) : undefined;
    if (taken) return taken;
    // The held one may have been leased meanwhile.
    const best = held && !held.busy ? held : this.#bestHeld(model, tiers, units);
    if (!best) return undefined;
    best.busy = true;
    return { ...leased(best.row, false), nextNonce: best.nextNonce, leaseId: this.holderId };
  }

  /** The idle stack this process holds in the first tier that has one, the one used longest ago. */
  #bestHeld(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    units: bigint,
  ): HeldStack | undefined {
    const tierOf = (nodeId: bigint) => tiers.findIndex((tier) => tier.includes(nodeId));
    const freshUntil = BigInt(Math.floor(this.#o.now() / 1000)) + this.#o.expiryMarginSeconds;
    let best: HeldStack | undefined;
    for (const held of this.#held.values()) {
      const { row } = held;
      const tier = tierOf(row.node_id);
      if (held.busy || row.model !== model.modelId || tier < 0) continue;
      if (row.units - held.unitsUsed < units || row.expires_at <= freshUntil) continue;
      if (row.price_per_million > this.#o.maxPricePerMillion) continue;
      const rank = best ? tier - tierOf(best.row.node_id) : -1;
      if (rank < 0 || (rank === 0 && held.lastUsedMs < (best?.lastUsedMs ?? 0))) best = held;
    }
    return best;
  }

  /** Takes a stack from the database to hold: an idle one, or one whose holder let its hold lapse (a crash). */
  async #claimStored(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    units: bigint,
  ): Promise<LeasedStack | undefined> {
    const nodeIds = tiers.flat();
    const now = this.#o.now();
    const heldIds = [...this.#held.keys()];
    const row = await this.#db
      .updateTable("stacks")
      .set({ state: "leased", lease_id: this.holderId, leased_until_ms: now + this.#o.leaseMs })
      .where("stack_id", "=", (eb) =>
        eb
          .selectFrom("stacks")
          .where((w) => this.#usable(w, model, nodeIds, units))
          .where((w) =>
            w.or([
              w("state", "=", "idle"),
              w.and([w("state", "=", "leased"), w("leased_until_ms", "<", BigInt(now))]),
            ]),
          )
          .$if(heldIds.length > 0, (q) => q.where("stack_id", "not in", heldIds))
          .select("stack_id")
          .$if(tiers.length > 1, (q) => q.orderBy(tierRank(tiers)))
          .orderBy("last_used_ms", (o) => o.asc().nullsFirst())
          .limit(1)
          .forUpdate()
          .skipLocked(),
      )
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    this.#hold(row, await this.#lastStored(row.stack_id));
    return leased(row, false);
  }

  /** Stacks of the model at an eligible node with `units` left, not about to expire, at most the gateway's price. */
  #usable(
    eb: ExpressionBuilder<GatewayDatabase, "stacks">,
    model: CatalogModel,
    nodeIds: bigint[],
    units: bigint,
  ) {
    const freshUntil = BigInt(Math.floor(this.#o.now() / 1000)) + this.#o.expiryMarginSeconds;
    return eb.and([
      eb("model", "=", model.modelId),
      eb("node_id", "in", nodeIds),
      eb(eb("units", "-", eb.ref("units_used")), ">=", units),
      eb("expires_at", ">", freshUntil),
      eb("price_per_million", "<=", this.#o.maxPricePerMillion),
    ]);
  }

  /** Buys a stack for the request when the model's pool has room; purchases go one at a time. */
  async #buyIfRoom(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    eligible: bigint[],
    units: bigint,
  ): Promise<LeasedStack | undefined> {
    const run = this.#buying.then(async () => {
      // Another request may have given a stack back, or bought one, while this one queued.
      const claimed = await this.#claim(model, tiers, units);
      if (claimed) return claimed;
      const { count } = await this.#db
        .selectFrom("stacks")
        .where((eb) => this.#usable(eb, model, eligible, units))
        .where("state", "<>", "retired")
        .select((eb) => eb.fn.countAll<string>().as("count"))
        .executeTakeFirstOrThrow();
      if (Number(count) >= this.#o.maxStacksPerModel) return undefined;
      return this.#buy(model);
    });
    this.#buying = run.catch(() => undefined);
    return run;
  }

  async #buy(model: CatalogModel): Promise<LeasedStack> {
    const tasks = model.tasks
      .filter((task) => this.#o.securityLevel === undefined || task.securityLevel === this.#o.securityLevel)
      .filter((task) => task.nodes.some((node) => node.pricePerMillion <= this.#o.maxPricePerMillion))
      .sort((a, b) => b.securityLevel - a.securityLevel);
    let lastError: unknown;
    for (const task of tasks) {
      try {
        const usable = await boughtStack(this.#chain, {
          taskId: task.taskId,
          units: this.#o.unitsPerStack,
          maxPricePerMillion: this.#o.maxPricePerMillion,
          duration: this.#o.durationSeconds,
        });
        const onChain = await getStack(this.#chain, usable.stackId);
        const row = await this.#db
          .insertInto("stacks")
          .values({
            stack_id: usable.stackId,
            model: model.modelId,
            task_id: task.taskId,
            node_id: usable.nodeId,
            node_url: usable.nodeUrl,
            node_signer: usable.nodeSigner,
            units: usable.units,
            price_per_million: onChain.pricePerMillion,
            expires_at: onChain.expiresAt,
            state: "leased",
            lease_id: randomUUID(),
            leased_until_ms: this.#o.now() + this.#o.leaseMs,
            created_at_ms: this.#o.now(),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        this.#logger.info(
          {
            stackId: String(usable.stackId),
            nodeId: String(usable.nodeId),
            taskId: String(task.taskId),
            pricePerMillion: String(onChain.pricePerMillion),
          },
          "stack bought",
        );
        return leased(row, true);
      } catch (error) {
        lastError = error;
        this.#logger.warn({ taskId: String(task.taskId), err: error }, "buying a stack failed");
      }
    }
    throw new NoNodeAvailableError("no stack could be bought for the model now", 5, { cause: lastError });
  }

  #waitForRelease(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#waiting.add(wake);
    });
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#waiting]) wake();
  }
}

/** Sorts stacks by their node's tier in the router's ranking. */
function tierRank(tiers: readonly (readonly bigint[])[]) {
  const cases = tiers.flatMap((tier, i) => tier.map((id) => sql`when ${String(id)}::numeric then ${i}`));
  return sql<number>`case node_id ${sql.join(cases, sql` `)} else ${tiers.length} end`;
}

function leased(row: Selectable<StacksTable>, fresh: boolean): LeasedStack {
  return {
    stackId: row.stack_id,
    modelId: row.model,
    taskId: row.task_id,
    nodeId: row.node_id,
    nodeUrl: row.node_url,
    nodeSigner: row.node_signer as Address,
    units: row.units,
    pricePerMillion: row.price_per_million,
    nextNonce: row.next_nonce,
    leaseId: row.lease_id ?? "",
    fresh,
  };
}
