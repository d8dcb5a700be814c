import { randomUUID } from "node:crypto";
import {
  type ChainContext,
  closeStack,
  type FraudEvidence,
  getStack,
  type ProveReceiptFraudResult,
  proveReceiptFraud,
  SecurityLevel,
  StackStatus,
} from "@atoma/chain";
import { type Hash, type Logger, requestHash, silentLogger } from "@atoma/core";
import {
  boughtStack,
  findKeptReceiptFraud,
  type KeptReceipt,
  type NodePick,
  type PendingRequest,
  type SignedStackRequest,
} from "@atoma/sdk";
import { type ExpressionBuilder, type Selectable, sql } from "kysely";
import type { Address } from "viem";
import { applyJournalRecord } from "../db/applyJournal.js";
import { databaseMsFromNow, databaseNowMs } from "../db/databaseClock.js";
import type { ReceiptRecord, SignedRecord, StackRecord } from "../db/journal.js";
import type { JournalFlusher } from "../db/journalFlusher.js";
import type { GatewayDb } from "../db/openGatewayDatabase.js";
import type { GatewayDatabase, StacksTable } from "../db/schema.js";
import { NoNodeAvailableError } from "../errors.js";
import type { CatalogModel, CatalogTask } from "./catalog.js";
import { receiptFromRow, receiptToRow } from "./receiptRows.js";
import { StackLeaseLapsedError } from "./stackLeaseLapsedError.js";

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

/** Why a request waiting for a stack woke: one held here given back, the pool changed otherwise, or its time was up. */
type Wake = "released" | "changed" | "time";

/** What the stack's receipts say after a request. */
export interface StackProgress {
  unitsUsed: bigint;
  nextNonce: bigint;
}

export interface StackPoolComponents {
  db: GatewayDb;
  chain: ChainContext;
  logger?: Logger | undefined;
  /** Told of every stack bought: its node, and whether a request waited on it or it was bought ahead. */
  onBought?: ((nodeId: bigint, reason: "request" | "ahead") => void) | undefined;
  /** Where receipts and progress go before the client is answered; none: straight to the database. */
  journal?: JournalFlusher | undefined;
  /**
   * Other gateways may send with the same wallet (a shared PostgreSQL): each transaction of the wallet also holds
   * a database advisory lock of the wallet while it is sent and mined, so two gateways never take one nonce.
   * @default false
   */
  sharedWallet?: boolean | undefined;
}

/** Ranked nodes a purchase names before it lets the chain draw one. */
const BUY_AT_NODES = 3;
/** How long a node that could not take a stack is passed over by purchases. */
const REFUSED_PURCHASE_MS = 60_000;
/** A stack this close to its expiry (seconds) may be refused as expired: the node's clock may run ahead. */
const REFUSAL_EXPIRY_SLACK_S = 60n;

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
  /**
   * How long a stack's hold lasts without a renewal (`renewHolds`), on the database's clock: then another gateway may
   * take it (a crash), and this one stops leasing it (on its own monotonic clock) until a renewal finds it still its
   * own. @default 600000
   */
  leaseMs?: number | undefined;
  /**
   * A held stack whose hold has less than this left unrenewed is not picked for a new request (review M1): the
   * request may use it that long (a confidential session's time and its request's). Each nonce is checked against
   * the hold again right before it is signed (`markSigned`). @default half of `leaseMs`
   */
  pickMarginMs?: number | undefined;
  /** How long a request waits for a stack when every stack of its model is in use. @default 30000 */
  waitMs?: number | undefined;
  /** A stack within this many seconds of expiry takes no new request (the node settles it). @default 600 */
  expiryMarginSeconds?: bigint | undefined;
  /**
   * How often a request waiting for a stack looks at the database again (other gateways give stacks back there);
   * one given back in this process wakes it at once. @default 250
   */
  recheckMs?: number | undefined;
  now?: (() => number) | undefined;
}

/** A stack this process holds. */
interface HeldStack {
  row: Selectable<StacksTable>;
  unitsUsed: bigint;
  nextNonce: bigint;
  last: KeptReceipt | undefined;
  /** Requests signed with no receipt, by nonce (undefined: not read from the database yet). */
  pending: Map<bigint, PendingRequest> | undefined;
  /** Leased to a request now. */
  busy: boolean;
  /** On the pool's clock (`now`): which stack was used longest ago. */
  lastUsedMs: number;
  /** On the process's clock: how long it has been idle. */
  idleSince: number;
  /**
   * On the process's monotonic clock, taken before the statement that last set its lease: the lease lasts `leaseMs`
   * from no earlier than this on the database's clock, so past `leaseFrom + leaseMs` it is not leased here any more.
   */
  leaseFrom: number;
}

interface PoolSettings {
  unitsPerStack: bigint;
  maxPricePerMillion: bigint;
  durationSeconds: bigint;
  maxStacksPerModel: number;
  securityLevel: number | undefined;
  leaseMs: number;
  pickMarginMs: number;
  waitMs: number;
  expiryMarginSeconds: bigint;
  recheckMs: number;
  now: () => number;
}

/**
 * The stacks the gateway's wallet holds, per model and node, in the gateway's database: a request leases an idle
 * stack with enough units left at the node it should go to, or the pool buys one at the best-ranked node that
 * takes it (the chain draws one when none does), or the request waits for one to be given back. Purchases are
 * serialised (one wallet). `runningLow`/`buyAhead`, `idleSince`/`takeIdle` and `stacksExpiringAfter` serve the
 * gateway's background work (`StackRestocker`, `IdleStackCloser`, `OverclaimWatcher`).
 */
/** Refusals that say the stack is already over on-chain (and that the chain bears out before a retirement). */
const CHAIN_ENDED_REFUSALS = new Set(["stack_closed", "stack_expired", "stack_not_served", "unknown_stack"]);

export class StackPool {
  readonly #db: GatewayDb;
  readonly #chain: ChainContext;
  readonly #logger: Logger;
  readonly #o: PoolSettings;
  readonly #onBought: StackPoolComponents["onBought"];
  #buying: Promise<unknown> = Promise.resolve();
  /** Nodes whose last purchase failed, until when (the process's clock) they are passed over. */
  readonly #refusedUntil = new Map<bigint, number>();
  readonly #waiting = new Set<(why: Wake) => void>();
  readonly #closing = new Set<Promise<void>>();

  /** The stacks this process holds (one process holds a stack at a time), with their progress and last receipt. */
  readonly #held = new Map<bigint, HeldStack>();
  /** Stacks a renewal found another gateway's (or retired) while held here: never signed on until held again. */
  readonly #lost = new Set<bigint>();
  readonly #journal: JournalFlusher | undefined;
  readonly #sharedWallet: boolean;
  /** Who holds a stack (`lease_id`): the gateway's id, so a restart takes back what it held. */
  readonly holderId: string;

  constructor(components: StackPoolComponents, options: StackPoolOptions) {
    this.#db = components.db;
    this.#onBought = components.onBought;
    this.#journal = components.journal;
    this.#sharedWallet = components.sharedWallet ?? false;
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
      pickMarginMs: options.pickMarginMs ?? (options.leaseMs ?? 600_000) / 2,
      waitMs: options.waitMs ?? 30_000,
      expiryMarginSeconds: options.expiryMarginSeconds ?? 600n,
      recheckMs: options.recheckMs ?? 250,
      now: options.now ?? Date.now,
    };
  }

  get maxPricePerMillion(): bigint {
    return this.#o.maxPricePerMillion;
  }

  /**
   * A stack for one request needing `units` on a node serving `model`: an idle one in the first tier of
   * `preferred` (nodes ranked best first, equals grouped) that has one, the one used longest ago among a tier's
   * (default: any eligible node), else a new one when the model's pool has room (bought at the best-ranked node
   * that takes it; when none does and `preferred` holds every eligible node, the chain draws its node, which may be
   * one the catalog does not list yet: the caller decides), else the first given back. Throws
   * `NoNodeAvailableError` when none can be had (no eligible node, the purchase failed, or every stack stayed busy
   * for `waitMs`). `mayBuy` false: only a stack already held (the request's key bought its share of late).
   */
  async lease(
    catalogModel: CatalogModel,
    units: bigint,
    preferred?: readonly (readonly bigint[])[],
    confidential = false,
    mayBuy = true,
  ): Promise<LeasedStack> {
    // Requests in clear never go to a confidential (level-3) stack; sealed ones only go to one.
    const model = tasksFor(catalogModel, confidential);
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
      // This process alone holds a full pool of the model: the database's count (`#holding`) could only say so too.
      if (mayBuy && this.#heldUsable(model, eligible, units) < this.#o.maxStacksPerModel) {
        const bought = await this.#buyIfRoom(model, tiers, eligible, units, confidential);
        if (bought) return this.#held.has(bought.stackId) ? bought : this.#adopt(bought);
      }
      const left = giveUpAt - performance.now();
      if (left <= 0) throw new NoNodeAvailableError("every stack of the model is in use: retry shortly", 1);
      const taken = await this.#waitForChance(
        model,
        tiers,
        eligible,
        units,
        Math.min(left, this.#o.recheckMs),
      );
      if (taken) return taken;
    }
  }

  /**
   * Waits up to `ms` for a stack given back here, or a reason to look again (room to buy one, a stack retired or
   * bought, the time up: undefined). A stack given back wakes every waiter and the first takes it at once (one in
   * the first tier: `#claim` would look no further); the others wait on without the statements of a claim and a
   * purchase check each (at 16 requests on 8 stacks, a dozen for each request served).
   */
  async #waitForChance(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    eligible: readonly bigint[],
    units: bigint,
    ms: number,
  ): Promise<LeasedStack | undefined> {
    const until = performance.now() + ms;
    for (;;) {
      const left = until - performance.now();
      if (left <= 0) return undefined;
      if ((await this.#waitForRelease(left)) !== "released") return undefined;
      const held = this.#bestHeld(model, tiers, units);
      // One in a later tier: `#claim` looks for a better one in the database first.
      if (held) return tiers[0]?.includes(held.row.node_id) ? this.#take(held) : undefined;
      if (this.#heldUsable(model, eligible, units) < this.#o.maxStacksPerModel) return undefined;
    }
  }

  /** Stacks of the model this process holds that `#usable` would count (their units used are the newest here). */
  #heldUsable(model: CatalogModel, nodeIds: readonly bigint[], units: bigint): number {
    const freshUntil = BigInt(Math.floor(this.#o.now() / 1000)) + this.#o.expiryMarginSeconds;
    let count = 0;
    for (const { row, unitsUsed } of this.#held.values())
      if (
        row.model === model.modelId &&
        model.tasks.some((task) => task.taskId === row.task_id) &&
        nodeIds.includes(row.node_id) &&
        row.units - unitsUsed >= units &&
        row.expires_at > freshUntil &&
        row.price_per_million <= this.#o.maxPricePerMillion
      )
        count++;
    return count;
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
    this.#wakeWaiters("released");
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
    // A stack still open on-chain (spent, or its node lied) is closed, so its node settles it now and what is
    // left comes back, rather than the escrow waiting for expiry; one the chain already shows over is left be.
    if (!CHAIN_ENDED_REFUSALS.has(reason)) this.#closeInBackground(stack);
  }

  /**
   * Closes a stack of the gateway's wallet on-chain, after any purchase under way: one wallet's transactions are
   * sent one at a time, or two of them could take the same nonce.
   */
  closeOnChain(stackId: bigint): ReturnType<typeof closeStack> {
    return this.withWallet(() => closeStack(this.#chain, { stackId }));
  }

  /**
   * Runs a transaction of the gateway's wallet after every one under way in this process (purchases, closes,
   * proofs, the watcher's challenges): one wallet's transactions go one at a time, or two could take one nonce.
   */
  withWallet<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#buying.then(() => this.#walletLocked(run));
    this.#buying = next.catch(() => undefined);
    return next;
  }

  /** Runs `run` holding the wallet's advisory lock, where gateways share it (else as it is). */
  #walletLocked<T>(run: () => Promise<T>): Promise<T> {
    const wallet = this.#chain.walletClient?.account?.address;
    if (!this.#sharedWallet || wallet === undefined) return run();
    return this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtextextended(${`atoma-wallet:${wallet.toLowerCase()}`}, 0))`.execute(
        trx,
      );
      return run();
    });
  }

  #closeInBackground(stack: LeasedStack): void {
    const closing = this.closeOnChain(stack.stackId).then(
      (closed) =>
        this.#logger.info(
          { stackId: String(stack.stackId), tx: closed.hash },
          "retired stack closed: its node settles it and the rest is refunded",
        ),
      (error: unknown) =>
        this.#logger.warn(
          { stackId: String(stack.stackId), err: error },
          "closing a retired stack failed: it settles at expiry",
        ),
    );
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  /** Waits for the closes of retired stacks under way (a shutdown, a test). */
  async closesDone(): Promise<void> {
    await Promise.allSettled([...this.#closing]);
  }

  /**
   * Records, before it is sent, that the gateway signed the stack's request at `nonce`: a node holding that
   * signature can answer a challenge of the leaf, so the watcher never challenges it by index.
   */
  async markSigned(
    stackId: bigint,
    nonce: bigint,
    maxUnits?: bigint,
    request?: { path: string; json: string; headers: Record<string, string> },
  ): Promise<void> {
    const held = this.#held.get(stackId);
    // Review M1: a request holding the stack past its hold (renewals failing: the database stalled or cut off) must
    // not sign a nonce another gateway, taking the stack on the database's clock, may sign too.
    if (this.#lost.has(stackId) || (held && held.leaseFrom + this.#o.leaseMs <= performance.now()))
      throw new StackLeaseLapsedError(stackId);
    if (held?.pending && request && maxUnits !== undefined)
      held.pending.set(nonce, {
        path: request.path,
        // Hashed when read (a resend): a request answered, nearly all of them, is dropped from here unread.
        signed: withLazyHash({ ...request, nonce, maxUnits }),
      });
    await this.#record({
      kind: "signed",
      stackId: String(stackId),
      nonce: String(nonce),
      ...(maxUnits === undefined ? {} : { maxUnits: String(maxUnits) }),
      ...(request === undefined ? {} : { request }),
      atMs: this.#o.now(),
    });
  }

  /**
   * The requests signed on the stack past its last accepted receipt that no receipt answers (the node withheld
   * it, or failed first): resent unchanged before the stack's next nonce is signed.
   */
  async pendingRequests(stackId: bigint, afterLeaf: bigint | undefined): Promise<PendingRequest[]> {
    const held = this.#held.get(stackId);
    if (held?.pending)
      return [...held.pending.values()].filter((p) => afterLeaf === undefined || p.signed.nonce > afterLeaf);
    const stored = await this.#pendingStored(stackId, afterLeaf);
    if (held) held.pending = new Map(stored.map((p) => [p.signed.nonce, p]));
    return stored;
  }

  /** What a request on the stack left pending (`StackClient.pending`): resent first by the next one. */
  setPending(stackId: bigint, pending: readonly PendingRequest[]): void {
    const held = this.#held.get(stackId);
    if (held) held.pending = new Map(pending.map((p) => [p.signed.nonce, p]));
  }

  /** The database's pending requests of a stack this process did not hold (a stack's holder flushes first). */
  async #pendingStored(stackId: bigint, afterLeaf: bigint | undefined): Promise<PendingRequest[]> {
    const rows = await this.#db
      .selectFrom("signed_requests as s")
      .where("s.stack_id", "=", stackId)
      .$if(afterLeaf !== undefined, (q) => q.where("s.nonce", ">", afterLeaf ?? 0n))
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("receipts as r")
              .whereRef("r.stack_id", "=", "s.stack_id")
              .whereRef("r.leaf_index", "=", "s.nonce")
              .select("r.leaf_index"),
          ),
        ),
      )
      .select(["s.nonce", "s.max_units", "s.path", "s.json", "s.headers"])
      .orderBy("s.nonce")
      .execute();
    return rows.flatMap((row) => {
      if (row.path === null || row.json === null || row.headers === null) return [];
      const headers = row.headers;
      const reqHash = requestHashOf(row.json);
      return [
        {
          path: row.path,
          signed: { reqHash, nonce: row.nonce, maxUnits: row.max_units, headers, json: row.json },
        },
      ];
    });
  }

  /**
   * The unit bound the gateway signed at each nonce of the stack (the largest, where a nonce was signed again),
   * the journal applied first (review challenges LOW-2: a nonce signed but not applied yet read as never signed,
   * and the watcher challenged a leaf the node could answer instead of the one holding the excess).
   */
  async signedBounds(stackId: bigint): Promise<Map<bigint, bigint>> {
    await this.#journal?.flush();
    const rows = await this.#db
      .selectFrom("signed_requests")
      .where("stack_id", "=", stackId)
      .select(["nonce", "max_units"])
      .execute();
    return new Map(rows.map((row) => [row.nonce, row.max_units]));
  }

  /** Every receipt kept for the stack, refused ones included, in leaf order. */
  async receiptsOf(stackId: bigint): Promise<{ receipt: KeptReceipt; refused: boolean }[]> {
    await this.#journal?.flush();
    const rows = await this.#db
      .selectFrom("receipts")
      .where("stack_id", "=", stackId)
      .select(["receipt", "refused"])
      .orderBy("leaf_index")
      .execute();
    return rows.map((row) => ({ receipt: receiptFromRow(row.receipt), refused: row.refused }));
  }

  /**
   * Proves on-chain, from the receipts kept for the stack, that its node signed what it did not serve
   * (`findKeptReceiptFraud`: two receipts that cannot both be honest, a running total off, units not the answer's
   * usage); after any purchase or close under way (one wallet). Resolves to whether a proof went out.
   */
  proveFraud(stackId: bigint, stackUnits: bigint): Promise<boolean> {
    const run = this.#buying.then(async () => {
      const kept = (await this.receiptsOf(stackId)).map((r) => r.receipt);
      const evidence = findKeptReceiptFraud(kept, stackUnits);
      if (!evidence) return false;
      const proven = await proveReceiptFraud(this.#chain, evidence);
      this.#logger.error(
        { stackId: String(stackId), nodeId: String(proven.nodeId), kind: proven.kind, tx: proven.hash },
        "a node's refused receipt proven fraudulent on-chain: the node is slashed",
      );
      return true;
    });
    this.#buying = run.catch(() => undefined);
    return run;
  }

  /** Sends a fraud proof the caller built (a denied leaf settled), after any purchase or close under way (one wallet). */
  submitFraud(evidence: FraudEvidence): Promise<ProveReceiptFraudResult> {
    const run = this.#buying.then(() => proveReceiptFraud(this.#chain, evidence));
    this.#buying = run.catch(() => undefined);
    return run;
  }

  /**
   * Whether the chain bears out a node's refusal of the stack as closed, expired, unknown or not its own: the
   * stack is not active, expires within `REFUSAL_EXPIRY_SLACK_S`, or names another node or owner. A chain that
   * cannot be read believes the node (the stack is retired, as before).
   */
  async chainBearsOutRefusal(stack: LeasedStack): Promise<boolean> {
    try {
      const onChain = await getStack(this.#chain, stack.stackId);
      const owner = this.#chain.walletClient.account?.address;
      const nowSeconds = BigInt(Math.floor(this.#o.now() / 1000));
      return (
        onChain.status !== StackStatus.Active ||
        onChain.closedAt !== 0n ||
        onChain.nodeId !== stack.nodeId ||
        (owner !== undefined && onChain.owner.toLowerCase() !== owner.toLowerCase()) ||
        onChain.expiresAt <= nowSeconds + REFUSAL_EXPIRY_SLACK_S
      );
    } catch (error) {
      this.#logger.warn({ stackId: String(stack.stackId), err: error }, "reading a refused stack failed");
      return true;
    }
  }

  /** Buys no stack at the node for a while (it refused a stack the chain says it serves). */
  avoidBuyingAt(nodeId: bigint): void {
    this.#refusedUntil.set(nodeId, performance.now() + REFUSED_PURCHASE_MS);
  }

  /**
   * Keeps a receipt the node signed (evidence); an accepted one is where the stack's running total goes on, a
   * refused one never is (it counts only up to its request's signed bound).
   */
  async keepReceipt(receipt: KeptReceipt, accepted = true): Promise<void> {
    const held = this.#held.get(receipt.fields.stackId);
    held?.pending?.delete(receipt.fields.leafIndex);
    if (accepted && held && (!held.last || receipt.fields.leafIndex > held.last.fields.leafIndex))
      held.last = receipt;
    await this.#record({
      kind: "receipt",
      receipt: receiptToRow(receipt),
      ...(accepted ? {} : { refused: true }),
      atMs: this.#o.now(),
    });
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
      // Checked again (review s5 L1): a waiter may have taken and released one during the flush, and a flush applies
      // only the records pending when it began. Out of `#held` first (no one takes them here any more), then their
      // records appended meanwhile are applied before the database lets another gateway sign at their nonces.
      const now = performance.now();
      const ids = idle.filter((h) => !h.busy && now - h.idleSince >= idleMs).map((h) => h.row.stack_id);
      for (const id of ids) this.#held.delete(id);
      if (ids.length > 0) await this.#journal?.flush();
      if (ids.length > 0)
        await this.#db
          .updateTable("stacks")
          .set({ state: "idle", lease_id: null, leased_until_ms: null })
          .where("stack_id", "in", ids)
          .where("lease_id", "=", this.holderId)
          .where("state", "=", "leased")
          .execute();
    }
    // Only the stacks held here, and only while still this gateway's: one whose lease lapsed and another gateway
    // took (or that was retired) is dropped, never taken back by a late renewal.
    const held = [...this.#held.values()];
    if (held.length === 0) return;
    const from = performance.now();
    const renewed = await this.#db
      .updateTable("stacks")
      .set({ leased_until_ms: databaseMsFromNow(this.#o.leaseMs) })
      .where("lease_id", "=", this.holderId)
      .where("state", "=", "leased")
      .where(
        "stack_id",
        "in",
        held.map((h) => h.row.stack_id),
      )
      .returning("stack_id")
      .execute();
    const still = new Set(renewed.map((row) => row.stack_id));
    for (const h of held)
      if (still.has(h.row.stack_id)) h.leaseFrom = from;
      else if (this.#held.get(h.row.stack_id) === h) {
        this.#held.delete(h.row.stack_id);
        this.#lost.add(h.row.stack_id);
        this.#logger.warn(
          { stackId: String(h.row.stack_id) },
          "a stack's hold lapsed and is no longer this gateway's: it is not used here any more",
        );
      }
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
  async #record(record: ReceiptRecord | StackRecord | SignedRecord): Promise<void> {
    if (this.#journal)
      try {
        this.#journal.journal.append(record);
        return;
      } catch (error) {
        // Closed by a shutdown or failing: straight to the database (both kinds apply idempotently).
        this.#logger.warn(
          { err: error, record },
          "the journal refused a record: it is applied to the database now",
        );
      }
    await applyJournalRecord(this.#db, record);
  }

  async #lastStored(stackId: bigint): Promise<KeptReceipt | undefined> {
    const row = await this.#db
      .selectFrom("receipts")
      .select("receipt")
      .where("stack_id", "=", stackId)
      .where("refused", "=", false)
      .orderBy("leaf_index", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && receiptFromRow(row.receipt);
  }

  /** Holds a stack just bought (inserted leased by the purchase): it becomes this process's. */
  async #adopt(stack: LeasedStack): Promise<LeasedStack> {
    const from = performance.now();
    const row = await this.#db
      .updateTable("stacks")
      .set({ lease_id: this.holderId, leased_until_ms: databaseMsFromNow(this.#o.leaseMs) })
      .where("stack_id", "=", stack.stackId)
      .returningAll()
      .executeTakeFirstOrThrow();
    this.#hold(row, undefined, from);
    return { ...stack, leaseId: this.holderId };
  }

  #hold(row: Selectable<StacksTable>, last: KeptReceipt | undefined, leaseFrom: number): HeldStack {
    const held: HeldStack = {
      row,
      unitsUsed: row.units_used,
      nextNonce: row.next_nonce,
      last,
      pending: undefined,
      busy: true,
      lastUsedMs: Number(row.last_used_ms ?? 0n),
      idleSince: performance.now(),
      leaseFrom,
    };
    this.#held.set(row.stack_id, held);
    this.#lost.delete(row.stack_id);
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
    // The held one may have been leased meanwhile, or dropped by a renewal, or its hold run short (review M2).
    const best = held && !held.busy && this.#pickable(held) ? held : this.#bestHeld(model, tiers, units);
    return best && this.#take(best);
  }

  /** Leases a stack this process holds (idle) to the caller. */
  #take(held: HeldStack): LeasedStack {
    held.busy = true;
    return { ...leased(held.row, false), nextNonce: held.nextNonce, leaseId: this.holderId };
  }

  /**
   * Still held here, with at least `pickMarginMs` of its hold left: a hold not renewed for `leaseMs` may be another
   * gateway's now, and a request picking it may use it that long (not leased here until a renewal says it is not).
   */
  #pickable(held: HeldStack): boolean {
    return (
      this.#held.get(held.row.stack_id) === held &&
      held.leaseFrom + this.#o.leaseMs - this.#o.pickMarginMs > performance.now()
    );
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
      if (!this.#pickable(held)) continue;
      if (!model.tasks.some((task) => task.taskId === row.task_id)) continue;
      if (row.units - held.unitsUsed < units || row.expires_at <= freshUntil) continue;
      if (row.price_per_million > this.#o.maxPricePerMillion) continue;
      const rank = best ? tier - tierOf(best.row.node_id) : -1;
      if (rank < 0 || (rank === 0 && held.lastUsedMs < (best?.lastUsedMs ?? 0))) best = held;
    }
    return best;
  }

  /**
   * Takes a stack from the database to hold: an idle one, or one whose holder let its hold lapse (a crash), judged by
   * the database's clock.
   */
  async #claimStored(
    model: CatalogModel,
    tiers: readonly (readonly bigint[])[],
    units: bigint,
  ): Promise<LeasedStack | undefined> {
    const nodeIds = tiers.flat();
    const heldIds = [...this.#held.keys()];
    const from = performance.now();
    const row = await this.#db
      .updateTable("stacks")
      .set({ state: "leased", lease_id: this.holderId, leased_until_ms: databaseMsFromNow(this.#o.leaseMs) })
      .where("stack_id", "=", (eb) =>
        eb
          .selectFrom("stacks")
          .where((w) => this.#usable(w, model, nodeIds, units))
          .where((w) =>
            w.or([
              w("state", "=", "idle"),
              // Lapsed on the database's clock, the one every gateway wrote its leases by (review L4).
              w.and([w("state", "=", "leased"), w("leased_until_ms", "<", databaseNowMs())]),
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
    this.#hold(row, await this.#lastStored(row.stack_id), from);
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
    const taskIds = model.tasks.map((task) => task.taskId);
    return eb.and([
      eb("model", "=", model.modelId),
      taskIds.length > 0 ? eb("task_id", "in", taskIds) : eb.lit(false),
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
    confidential: boolean,
  ): Promise<LeasedStack | undefined> {
    const run = this.#buying.then(async () => {
      // Another request may have given a stack back, or bought one, while this one queued.
      const claimed = await this.#claim(model, tiers, units);
      if (claimed) return claimed;
      if ((await this.#holding(model, eligible, units)).length >= this.#o.maxStacksPerModel) return undefined;
      // The best-ranked node without a usable stack first (its others are all in use), then the rest in rank order.
      const ranked = tiers.flat();
      const stocked = new Set((await this.#holding(model, ranked, units)).map((row) => row.node_id));
      const order = [...ranked.filter((id) => !stocked.has(id)), ...ranked.filter((id) => stocked.has(id))];
      // A drawn node may be one the request does not allow: drawn only when it allows every eligible node.
      const drawn = eligible.every((id) => ranked.includes(id));
      return leased(await this.#buy(model, order, true, drawn, confidential), true);
    });
    this.#buying = run.catch(() => undefined);
    return run;
  }

  /** Stacks of the model at `nodeIds` still in the pool (idle or leased) with `units` left and not near expiry. */
  #holding(model: CatalogModel, nodeIds: bigint[], units: bigint) {
    if (nodeIds.length === 0) return Promise.resolve([]);
    return this.#db
      .selectFrom("stacks")
      .where((eb) => this.#usable(eb, model, nodeIds, units))
      .where("state", "<>", "retired")
      .select(["stack_id", "node_id"])
      .execute();
  }

  /**
   * Buys a stack at the first of `nodeIds` (ranked best first) that takes it (`buyStackFromNode`: the contract
   * refuses a node that is not subscribed, is over its capacity or asks more than the cap), trying at most
   * `BUY_AT_NODES` of them, then a node the chain draws (`drawn`). Leased to the caller when `lease`, else idle.
   */
  async #buy(
    model: CatalogModel,
    nodeIds: readonly bigint[],
    lease: boolean,
    drawn = true,
    confidential = false,
  ): Promise<Selectable<StacksTable>> {
    const tasks = model.tasks
      .filter(
        (task) =>
          confidential || this.#o.securityLevel === undefined || task.securityLevel === this.#o.securityLevel,
      )
      // A confidential task takes only sealed requests (a session's); requests in clear go to the others.
      .filter((task) => (task.securityLevel === SecurityLevel.Confidential) === confidential)
      .filter((task) => task.nodes.some((node) => node.pricePerMillion <= this.#o.maxPricePerMillion))
      .sort((a, b) => b.securityLevel - a.securityLevel);
    const picks: { task: CatalogTask; pick: NodePick }[] = [];
    const clock = performance.now();
    const willing = nodeIds.filter((id) => (this.#refusedUntil.get(id) ?? 0) <= clock);
    for (const nodeId of willing.slice(0, BUY_AT_NODES))
      for (const task of tasks)
        if (task.nodes.some((n) => n.nodeId === nodeId && n.pricePerMillion <= this.#o.maxPricePerMillion))
          picks.push({ task, pick: { kind: "node", nodeId } });
    if (drawn) for (const task of tasks) picks.push({ task, pick: { kind: "drawn" } });
    let lastError: unknown;
    for (const { task, pick } of picks) {
      try {
        const usable = await this.#walletLocked(() =>
          boughtStack(this.#chain, {
            taskId: task.taskId,
            units: this.#o.unitsPerStack,
            maxPricePerMillion: this.#o.maxPricePerMillion,
            duration: this.#o.durationSeconds,
            pick,
          }),
        );
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
            ...(lease
              ? {
                  state: "leased",
                  lease_id: randomUUID(),
                  leased_until_ms: databaseMsFromNow(this.#o.leaseMs),
                }
              : { state: "idle" }),
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
            pick: pick.kind,
            ahead: !lease,
          },
          "stack bought",
        );
        this.#onBought?.(usable.nodeId, lease ? "request" : "ahead");
        if (!lease) this.#wakeWaiters();
        return row;
      } catch (error) {
        lastError = error;
        // A node that cannot take a stack (capacity, price, left) is not asked again for a while.
        if (pick.kind === "node")
          this.#refusedUntil.set(pick.nodeId, performance.now() + REFUSED_PURCHASE_MS);
        this.#logger.warn(
          {
            taskId: String(task.taskId),
            nodeId: pick.kind === "node" ? String(pick.nodeId) : undefined,
            err: error,
          },
          "buying a stack failed",
        );
      }
    }
    throw new NoNodeAvailableError("no stack could be bought for the model now", 5, { cause: lastError });
  }

  /**
   * The nodes and models where every stack in the pool runs low (fewer than `belowUnits` left, or expiring within
   * `withinSeconds` of the expiry margin) and one was used since `usedSinceMs`: where to buy again.
   */
  async runningLow(
    belowUnits: bigint,
    withinSeconds: bigint,
    usedSinceMs: number,
  ): Promise<{ modelId: string; nodeId: bigint }[]> {
    const soon = BigInt(Math.floor(this.#o.now() / 1000)) + this.#o.expiryMarginSeconds + withinSeconds;
    const rows = await this.#db
      .selectFrom("stacks")
      .where("state", "<>", "retired")
      .select((eb) => [
        "model",
        "node_id",
        eb.fn
          .countAll<string>()
          .filterWhere((w) =>
            w.and([w(w("units", "-", w.ref("units_used")), ">=", belowUnits), w("expires_at", ">", soon)]),
          )
          .as("healthy"),
      ])
      .groupBy(["model", "node_id"])
      .having((eb) => eb.fn.max(eb.fn.coalesce("last_used_ms", "created_at_ms")), ">=", BigInt(usedSinceMs))
      .execute();
    return rows
      .filter((row) => Number(row.healthy) === 0)
      .map((row) => ({ modelId: row.model, nodeId: row.node_id }));
  }

  /** Buys an idle stack at `nodeId` ahead of need (no drawn node instead), unless the model's pool is full. */
  async buyAhead(
    catalogModel: CatalogModel,
    nodeId: bigint,
    belowUnits: bigint,
  ): Promise<bigint | undefined> {
    const model = tasksFor(catalogModel, false);
    const run = this.#buying.then(async () => {
      const held = await this.#holding(model, this.#eligibleNodes(model), belowUnits);
      if (held.length >= this.#o.maxStacksPerModel) return undefined;
      return (await this.#buy(model, [nodeId], false, false)).stack_id;
    });
    this.#buying = run.catch(() => undefined);
    return run;
  }

  /** Stacks idle since before `cutoffMs` (last used, or bought then and never used). */
  async idleSince(cutoffMs: number): Promise<bigint[]> {
    const rows = await this.#db
      .selectFrom("stacks")
      .where("state", "=", "idle")
      .where((eb) => eb(eb.fn.coalesce("last_used_ms", "created_at_ms"), "<", BigInt(cutoffMs)))
      .select("stack_id")
      .execute();
    return rows.map((row) => row.stack_id);
  }

  /** Takes a stack still idle since before `cutoffMs` out of the pool for good (to close it); false when in use. */
  async takeIdle(stackId: bigint, cutoffMs: number): Promise<boolean> {
    const taken = await this.#db
      .updateTable("stacks")
      .set({ state: "retired", lease_id: null, leased_until_ms: null })
      .where("stack_id", "=", stackId)
      .where("state", "=", "idle")
      .where((eb) => eb(eb.fn.coalesce("last_used_ms", "created_at_ms"), "<", BigInt(cutoffMs)))
      .executeTakeFirst();
    return taken.numUpdatedRows > 0n;
  }

  /** The pool's stacks (any state) expiring after `afterSeconds`: those whose settlement may still be open. */
  async stacksExpiringAfter(
    afterSeconds: bigint,
  ): Promise<
    { stackId: bigint; nodeId: bigint; nextNonce: bigint; signedBelowNonce: bigint; signedMaxUnits: bigint }[]
  > {
    const rows = await this.#db
      .selectFrom("stacks")
      .where("expires_at", ">", afterSeconds)
      .select(["stack_id", "node_id", "next_nonce", "signed_below_nonce", "signed_max_units"])
      .orderBy("stack_id")
      .execute();
    return rows.map((row) => ({
      stackId: row.stack_id,
      nodeId: row.node_id,
      nextNonce: row.next_nonce,
      signedBelowNonce: row.signed_below_nonce,
      signedMaxUnits: row.signed_max_units,
    }));
  }

  /** Resolves after `ms`, or sooner when woken: `released` when a stack held here was given back. */
  #waitForRelease(ms: number): Promise<Wake> {
    return new Promise((resolve) => {
      const wake = (why: Wake) => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve(why);
      };
      const timer = setTimeout(() => wake("time"), ms);
      this.#waiting.add(wake);
    });
  }

  /** Wakes every request waiting for a stack: `released` when one held here was given back, else `changed`. */
  #wakeWaiters(why: Wake = "changed"): void {
    for (const wake of [...this.#waiting]) wake(why);
  }
}

/** The request hash of a body as stored (the JSON text that was signed and sent). */
function requestHashOf(json: string) {
  return requestHash(JSON.parse(json) as Record<string, unknown>);
}

/** A signed request as stored, whose `reqHash` is computed the first time it is read. */
function withLazyHash(stored: Omit<SignedStackRequest, "reqHash">): SignedStackRequest {
  let hash: Hash | undefined;
  return Object.defineProperty(stored, "reqHash", {
    enumerable: true,
    get: () => {
      hash ??= requestHashOf(stored.json);
      return hash;
    },
  }) as SignedStackRequest;
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

/** The model with only the tasks a request may use: the confidential (level-3) ones for a sealed request, else the others. */
function tasksFor(model: CatalogModel, confidential: boolean): CatalogModel {
  return {
    ...model,
    tasks: model.tasks.filter((task) => (task.securityLevel === SecurityLevel.Confidential) === confidential),
  };
}
