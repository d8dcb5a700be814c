import {
  type ChainContext,
  ContractRevertError,
  getSettlement,
  getStack,
  nodeRegistryAbi,
  refundUnposted,
  SettlementPhase,
} from "@atoma/chain";
import { attestationRegistryAbi } from "@atoma/contracts";
import { type Logger, silentLogger } from "@atoma/core";
import { readJsonCapped } from "@atoma/sdk";
import { decodeFunctionData, type Hex, isAddressEqual } from "viem";
import type { NodeAddressGuard } from "../network/nodeAddressGuard.js";
import type { RefundBook, RefundClaim, StackCredit } from "./refundBook.js";
import {
  type ServedStatement,
  type ServedStatementKeeper,
  servedStatementOf,
  signedStatement,
} from "./servedStatement.js";

/** Refusals that say "not yet": the epoch runs, or the settlement is not final. Sent again later. */
const NOT_YET = new Set(["EpochNotOver", "SettlementNotOver"]);
/** Refusals for good: never sent again (no gas spent on them: each is the simulation's answer). */
const FINAL = new Set([
  "EvidencePosted",
  "StatementSignatureInvalid",
  "StackNotServedUnder",
  "StackNotPaid",
  "RefundWindowClosed",
  "NotWired",
]);
const MAX_EVIDENCE_BYTES = 2 * 1024 * 1024;
/** Blocks of the registry's logs read per pass (the rest at the next). */
const LOG_BLOCKS_PER_PASS = 5_000n;
/** How far back a gateway that never read its refund logs starts. */
const FIRST_LOG_LOOKBACK = 100_000n;
/** Entries of the level-3 cache before it is emptied (a long-lived gateway buys stacks without end). */
const MAX_LEVEL_CACHE = 4_096;
/**
 * Blocks past a claim's send before the chain having nothing of it and an idle wallet count as "never sent": a
 * load-balanced RPC's other backend may still hold the transaction in its mempool (review S5 F10).
 */
const RESEND_AFTER_BLOCKS = 3n;
const REFUND_EVENTS = ["AttestationRevoked", "BuyerRefunded", "RefundClaimed"] as const;

export type RefundOutcome = "refunded" | "recorded" | "not_yet" | "refused" | "recovered" | "honest";

export interface RefundWatcherComponents {
  book: RefundBook;
  /** The gateway's wallet: the owner of the stacks it claims for (the refund goes to the owner whoever sends). */
  chain: ChainContext;
  /** Runs one transaction of the shared wallet at a time (`StackPool.withWallet`: the wallet's advisory lock). */
  wallet: { withWallet<T>(run: () => Promise<T>): Promise<T> };
  /** Guards the watcher's own fetches of a node's epoch evidence (its URL may point anywhere since purchase). */
  guard?: NodeAddressGuard | undefined;
  logger?: Logger | undefined;
  now?: (() => number) | undefined;
  onClaim?: ((outcome: RefundOutcome) => void) | undefined;
  /**
   * Settles the sealed charges still held on a stack by what its (final) settlement paid: the same call as the
   * settlement watcher's (`SealedCharges.settleBySettlement`, idempotent). A stack's refund waits for its holds
   * (`RefundBook.credit`), and that watcher gives a stack up a day past its expiry: a settlement finalized later
   * would leave every key's share of the refund waiting for good (review refunds2 M1).
   */
  settleHeld?: ((stackId: bigint, paidUnits: bigint) => Promise<void>) | undefined;
  /** What a pass credited: to the stacks' keys (`toKey`) out of what the chain refunded (`recorded`), in wei. */
  onCredit?: ((recorded: bigint, toKey: bigint) => void) | undefined;
}

export interface RefundWatcherOptions {
  /** How long a claim the chain said "not yet" to (epoch, settlement, dispute) waits. @default 60000 */
  retryMs?: number | undefined;
  /** How often a level-3 node's epoch evidence (and statement) is fetched while none of its epoch is kept. @default 60000 */
  collectEveryMs?: number | undefined;
  /**
   * How often it is fetched again once one is kept (a node may serve the gateway an honest statement and others a
   * lie: each fetch is another chance to be served the lie). @default 600000
   */
  refetchEveryMs?: number | undefined;
}

/**
 * Claims the refunds of the gateway's level-3 stacks whose node lied about its attestation (issue 14, C-2): keeps
 * the statement each node serves beside its epoch evidence (fetched here once an epoch, besides those its users'
 * sessions were served), judges each once its epoch is over against the registry's postings, and for a lie claims
 * `refundUnposted` for each of the gateway's stacks of that node, once per stack (claimed in the database under the
 * shared wallet's lock), again after the settlement is final when the chain says so, never for an honest node. What
 * the chain refunds a stack is split among the keys charged on it, in proportion (`RefundBook.credit`).
 */
export class RefundWatcher implements ServedStatementKeeper {
  readonly #c: RefundWatcherComponents;
  readonly #retryMs: number;
  readonly #collectEveryMs: number;
  readonly #refetchEveryMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #levelThree = new Map<bigint, boolean>();
  readonly #fetchedAt = new Map<string, number>();

  constructor(components: RefundWatcherComponents, options: RefundWatcherOptions = {}) {
    this.#c = components;
    this.#retryMs = options.retryMs ?? 60_000;
    this.#collectEveryMs = options.collectEveryMs ?? 60_000;
    this.#refetchEveryMs = options.refetchEveryMs ?? 600_000;
    this.#logger = (components.logger ?? silentLogger).child({ module: "refund-watcher" });
    this.#now = components.now ?? Date.now;
  }

  /** One pass: collect statements, judge those of past epochs, settle claims left sending, claim, credit. */
  async pass(signal?: AbortSignal): Promise<void> {
    const epoch = await this.#epoch();
    const steps = [
      () => this.#collect(epoch),
      () => this.#follow(),
      () => this.#judge(epoch),
      () => this.#recover(),
      () => this.#claim(),
      () => this.#credit(),
    ];
    for (const step of steps) {
      if (signal?.aborted) return;
      await step();
    }
  }

  /**
   * Keeps a statement a node served on a key's session (the gateway's attestation route): checked against the
   * stack's node and signer first, and kept only for this epoch or the last (a node cannot fill the database with
   * statements of epochs to come). Never throws (logged): the answer is the client's either way.
   */
  async keepServed(
    body: unknown,
    stack: { stackId: bigint; nodeId: bigint; nodeSigner: `0x${string}` },
  ): Promise<void> {
    try {
      const statement = await servedStatementOf(
        body,
        { nodeId: stack.nodeId, signer: stack.nodeSigner },
        this.#domain(),
      );
      if (statement) await this.#keepIfCurrent(statement);
    } catch (error) {
      this.#logger.warn({ nodeId: String(stack.nodeId), err: error }, "keeping a served statement failed");
    }
  }

  /** Keeps a node-served statement of this epoch or the last, with whether its hash is posted for its epoch. */
  async #keepIfCurrent(statement: ServedStatement): Promise<boolean> {
    const current = BigInt(
      await this.#c.chain.publicClient.readContract({
        address: this.#c.chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "currentEpoch",
      }),
    );
    if (statement.epoch > current || statement.epoch + 1n < current) return false;
    return this.#c.book.keep(statement, await this.#postedInEpoch(statement));
  }

  /** Whether the registry took the statement's hash from its node in its epoch (then it is true, not a lie). */
  async #postedInEpoch(statement: ServedStatement): Promise<boolean> {
    const [posted, postedIn] = await this.#c.chain.publicClient.readContract({
      address: this.#c.chain.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "postings",
      args: [statement.nodeId, statement.evidenceHash],
    });
    return posted && BigInt(postedIn) === statement.epoch;
  }

  #domain() {
    return {
      chainId: this.#c.chain.publicClient.chain?.id ?? 0,
      registry: this.#c.chain.addresses.AttestationRegistry,
    };
  }

  async #epoch(): Promise<{ current: bigint; genesis: bigint; length: bigint; chainNow: bigint }> {
    const registry = { address: this.#c.chain.addresses.NodeRegistry, abi: nodeRegistryAbi } as const;
    const read = this.#c.chain.publicClient;
    const [current, genesis, length, block] = await Promise.all([
      read.readContract({ ...registry, functionName: "currentEpoch" }),
      read.readContract({ ...registry, functionName: "GENESIS" }),
      read.readContract({ ...registry, functionName: "EPOCH_LENGTH" }),
      read.getBlock(),
    ]);
    return {
      current: BigInt(current),
      genesis: BigInt(genesis),
      length: BigInt(length),
      chainNow: block.timestamp,
    };
  }

  async #isLevelThree(stackId: bigint): Promise<boolean> {
    let known = this.#levelThree.get(stackId);
    if (known === undefined) {
      known = Number((await getStack(this.#c.chain, stackId)).securityLevel) === 3;
      if (this.#levelThree.size >= MAX_LEVEL_CACHE) this.#levelThree.clear();
      this.#levelThree.set(stackId, known);
    }
    return known;
  }

  /**
   * Fetches the epoch evidence of each node serving a level-3 stack of the gateway's: every `collectEveryMs` while
   * none of its epoch is kept, every `refetchEveryMs` after.
   */
  async #collect(epoch: { current: bigint; chainNow: bigint }): Promise<void> {
    for (const named of this.#fetchedAt.keys())
      if (!named.endsWith(`:${epoch.current}`)) this.#fetchedAt.delete(named);
    const seen = new Set<bigint>();
    for (const stack of await this.#c.book.liveStacks(epoch.chainNow)) {
      if (seen.has(stack.nodeId)) continue;
      seen.add(stack.nodeId);
      const named = `${stack.nodeId}:${epoch.current}`;
      const last = this.#fetchedAt.get(named);
      try {
        if (last !== undefined) {
          const every = (await this.#c.book.hasStatement(stack.nodeId, epoch.current))
            ? this.#refetchEveryMs
            : this.#collectEveryMs;
          if (this.#now() - last < every) continue;
        }
        if (!(await this.#isLevelThree(stack.stackId))) continue;
        this.#fetchedAt.set(named, this.#now());
        const body = await this.#fetchEvidence(stack.nodeUrl);
        const statement = await servedStatementOf(
          body,
          { nodeId: stack.nodeId, signer: stack.nodeSigner },
          this.#domain(),
        );
        if (statement) await this.#keepIfCurrent(statement);
      } catch (error) {
        this.#logger.debug(
          { nodeId: String(stack.nodeId), err: error },
          "fetching a node's epoch evidence failed",
        );
      }
    }
  }

  /**
   * Reads the registry's refund logs since the last pass (review S5 F4, F5): a refund of one of the gateway's stacks
   * (`BuyerRefunded` to its wallet), whoever claimed it and with whatever statement, is credited; a lie of one of
   * its nodes proven by anyone (`reportUnposted` / `refundUnposted`, read from the transaction's input) is kept,
   * so its own stacks of that node are claimed too.
   */
  async #follow(): Promise<void> {
    const read = this.#c.chain.publicClient;
    const wallet = this.#c.chain.walletClient.account.address;
    const latest = await read.getBlockNumber();
    const from =
      (await this.#c.book.logCursor(wallet)) ??
      (latest > FIRST_LOG_LOOKBACK ? latest - FIRST_LOG_LOOKBACK : 0n);
    if (from > latest) return;
    const to = from + LOG_BLOCKS_PER_PASS - 1n < latest ? from + LOG_BLOCKS_PER_PASS - 1n : latest;
    const logs = await read.getContractEvents({
      address: this.#c.chain.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      eventName: undefined,
      fromBlock: from,
      toBlock: to,
    });
    const signers = await this.#c.book.nodeSigners();
    const proofs = new Set<Hex>();
    const refunded = new Set<bigint>();
    for (const log of logs) {
      if (!(REFUND_EVENTS as readonly string[]).includes(log.eventName)) continue;
      const args = log.args as { nodeId?: bigint; stackId?: bigint; owner?: `0x${string}` };
      if (log.eventName === "BuyerRefunded" && args.owner && isAddressEqual(args.owner, wallet))
        refunded.add(args.stackId ?? 0n);
      if (args.nodeId !== undefined && signers.has(args.nodeId) && log.transactionHash)
        proofs.add(log.transactionHash);
    }
    for (const hash of proofs) await this.#learnFrom(hash, signers);
    for (const stackId of refunded) {
      const stack = await this.#c.book.creditOf(stackId);
      if (stack) await this.#creditStack(stack);
    }
    await this.#c.book.moveLogCursor(wallet, to + 1n);
  }

  /** Keeps the statement a report or refund transaction proved on-chain, when it is one of the gateway's nodes'. */
  async #learnFrom(hash: Hex, signers: Map<bigint, Hex>): Promise<void> {
    const tx = await this.#c.chain.publicClient.getTransaction({ hash });
    let call: ReturnType<typeof decodeFunctionData<typeof attestationRegistryAbi>>;
    try {
      call = decodeFunctionData({ abi: attestationRegistryAbi, data: tx.input });
    } catch {
      return; // Through another contract: not read (its statements may still reach the gateway as served).
    }
    if (call.functionName !== "reportUnposted" && call.functionName !== "refundUnposted") return;
    const [nodeId, epoch, evidenceHash, signature] = call.args as unknown as [bigint, bigint, Hex, Hex];
    const signer = signers.get(nodeId);
    if (signer === undefined) return;
    const statement = await signedStatement(
      {
        nodeId,
        epoch: BigInt(epoch),
        evidenceHash: evidenceHash.toLowerCase() as Hex,
        signature: signature.toLowerCase() as Hex,
      },
      { nodeId, signer },
      this.#domain(),
    );
    if (statement && (await this.#c.book.keep(statement, false)))
      this.#logger.info(
        { nodeId: String(nodeId), epoch: String(statement.epoch), tx: hash },
        "a lie of one of the gateway's nodes was proven on-chain: kept to claim its own stacks",
      );
  }

  async #fetchEvidence(nodeUrl: string): Promise<unknown> {
    const guard = this.#c.guard;
    if (guard && (await guard.refusal(nodeUrl)) !== undefined) return undefined;
    const dispatcher = guard?.dispatcher;
    const answer = await fetch(new URL("/v1/attestation", nodeUrl), {
      redirect: "error",
      signal: AbortSignal.timeout(10_000),
      ...(dispatcher ? { dispatcher } : {}),
    } as unknown as RequestInit);
    if (!answer.ok) {
      await answer.body?.cancel();
      return undefined;
    }
    return readJsonCapped(answer, MAX_EVIDENCE_BYTES);
  }

  /** Each statement of an epoch over: `posted` when the registry took its hash in its epoch, else a lie. */
  async #judge(epoch: { current: bigint; genesis: bigint; length: bigint }): Promise<void> {
    for (const statement of await this.#c.book.unjudged(epoch.current)) {
      if (await this.#postedInEpoch(statement)) {
        await this.#c.book.judge(statement, "posted", []);
        this.#c.onClaim?.("honest");
        continue;
      }
      // Stacks bought to serve past the epoch's start: the chain checks the rest (a refusal costs no gas).
      const start = epoch.genesis + statement.epoch * epoch.length;
      const stackIds: bigint[] = [];
      for (const stackId of await this.#c.book.stacksOfNode(statement.nodeId, start))
        if (await this.#isLevelThree(stackId)) stackIds.push(stackId);
      await this.#c.book.judge(statement, "lie", stackIds);
      this.#logger.warn(
        { nodeId: String(statement.nodeId), epoch: String(statement.epoch), stacks: stackIds.length },
        "a level-3 node served a statement for evidence it never posted: claiming refunds",
      );
    }
  }

  async #digest(claim: ServedStatement): Promise<`0x${string}`> {
    return this.#c.chain.publicClient.readContract({
      address: this.#c.chain.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "servedEvidenceDigest",
      args: [claim.nodeId, claim.epoch, claim.evidenceHash],
    });
  }

  /**
   * Where the chain has the claim: refunded, recorded (disputed), or neither; at `blockNumber` when given (a
   * receipt's block: a load-balanced RPC's lagging backend then answers for that block or fails, never stale).
   */
  async #onChain(claim: RefundClaim, blockNumber?: bigint): Promise<"refunded" | "recorded" | "none"> {
    const digest = await this.#digest(claim);
    const at = blockNumber === undefined ? {} : { blockNumber };
    const registry = {
      address: this.#c.chain.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
    } as const;
    const read = this.#c.chain.publicClient;
    if (
      await read.readContract({ ...registry, ...at, functionName: "refunded", args: [digest, claim.stackId] })
    )
      return "refunded";
    if (
      await read.readContract({
        ...registry,
        ...at,
        functionName: "refundClaimed",
        args: [digest, claim.stackId],
      })
    )
      return "recorded";
    return "none";
  }

  /**
   * Claims a crash (or a lost receipt) left `sending`, read from the chain under the wallet's lock (no gateway is
   * between its claim and its send then): refunded or recorded as the chain has it; neither, sent again only when none
   * of the wallet's transactions is pending and `RESEND_AFTER_BLOCKS` have passed since its send (one still pending
   * may land: never a blind resend).
   */
  async #recover(): Promise<void> {
    const stuck = await this.#c.book.sending();
    if (stuck.length === 0) return;
    await this.#c.wallet.withWallet(async () => {
      const idle = await this.#walletIdle();
      const latest = await this.#c.chain.publicClient.getBlockNumber();
      for (const claim of await this.#c.book.sending()) {
        const found = await this.#onChain(claim);
        const recent = claim.sentBlock !== undefined && latest < claim.sentBlock + RESEND_AFTER_BLOCKS;
        if (found === "none" && (!idle || recent)) continue;
        const state = found === "none" ? "pending" : found;
        await this.#c.book.settle(claim, "sending", state);
        this.#c.onClaim?.("recovered");
        this.#logger.info(
          { stackId: String(claim.stackId), nodeId: String(claim.nodeId), state },
          "a refund claim left sending was read back from the chain",
        );
      }
    });
  }

  async #walletIdle(): Promise<boolean> {
    const address = this.#c.chain.walletClient.account.address;
    const read = this.#c.chain.publicClient;
    const [mined, pending] = await Promise.all([
      read.getTransactionCount({ address, blockTag: "latest" }),
      read.getTransactionCount({ address, blockTag: "pending" }),
    ]);
    return pending <= mined;
  }

  async #claim(): Promise<void> {
    for (const claim of await this.#c.book.due()) {
      try {
        await this.#c.wallet.withWallet(() => this.#claimOne(claim));
      } catch (error) {
        this.#logger.warn(
          { stackId: String(claim.stackId), nodeId: String(claim.nodeId), err: error },
          "a refund claim's transaction failed: its state is read back from the chain at a later pass",
        );
      }
    }
  }

  /** Under the wallet's lock: takes the claim (one gateway only), sends it, and records what the chain did. */
  async #claimOne(claim: RefundClaim): Promise<void> {
    const sentBlock = await this.#c.chain.publicClient.getBlockNumber();
    if (!(await this.#c.book.take(claim, sentBlock))) return;
    const seen = { stackId: String(claim.stackId), nodeId: String(claim.nodeId), epoch: String(claim.epoch) };
    let tx: string;
    let minedIn: bigint;
    try {
      ({ hash: tx, blockNumber: minedIn } = await refundUnposted(this.#c.chain, { ...claim }));
    } catch (error) {
      if (!(error instanceof ContractRevertError)) throw error;
      const name = error.errorName ?? "";
      if (NOT_YET.has(name)) {
        await this.#c.book.settle(claim, "sending", claim.state, { nextTryMs: this.#now() + this.#retryMs });
        this.#c.onClaim?.("not_yet");
        this.#logger.debug({ ...seen, reason: name }, "a refund claim is not due yet");
      } else if (name === "StackRefunded") {
        await this.#c.book.settle(claim, "sending", "refunded", { reason: name });
        this.#c.onClaim?.("refunded");
      } else if (FINAL.has(name)) {
        await this.#c.book.settle(claim, "sending", "refused", { reason: name });
        this.#c.onClaim?.("refused");
        this.#logger.info({ ...seen, reason: name }, "the chain refused a refund claim for good");
      } else {
        await this.#c.book.settle(claim, "sending", claim.state, { nextTryMs: this.#now() + this.#retryMs });
        throw error;
      }
      return;
    }
    const found = await this.#onChain(claim, minedIn);
    if (found === "refunded") {
      await this.#c.book.settle(claim, "sending", "refunded");
      this.#c.onClaim?.("refunded");
      this.#logger.info({ ...seen, tx }, "refund claimed: the node was slashed, the stack's owner refunded");
    } else {
      // Recorded while the settlement is disputed: paid by a call after it is finalized.
      await this.#c.book.settle(claim, "sending", "recorded", { nextTryMs: this.#now() + this.#retryMs });
      this.#c.onClaim?.("recorded");
      this.#logger.info(
        { ...seen, tx },
        "refund claim recorded while the settlement is disputed: sent again later",
      );
    }
  }

  /** Credits what the chain refunded each stack beyond what was credited (its keys' spends go down, in proportion). */
  async #credit(): Promise<void> {
    for (const stack of await this.#c.book.refundedStacks()) await this.#creditStack(stack);
  }

  async #creditStack(stack: StackCredit): Promise<void> {
    const total = await this.#c.chain.publicClient.readContract({
      address: this.#c.chain.addresses.AttestationRegistry,
      abi: attestationRegistryAbi,
      functionName: "refundedTotal",
      args: [stack.stackId],
    });
    let outcome = await this.#c.book.credit(stack, total);
    if (outcome.deferred && (await this.#settleHeld(stack.stackId)))
      outcome = await this.#c.book.credit(stack, total);
    const { recorded, toKey, toKeys, deferred } = outcome;
    if (deferred)
      this.#logger.debug(
        { stackId: String(stack.stackId) },
        "a stack's refund waits for its held sealed charges to settle",
      );
    if (recorded === 0n) return;
    this.#c.onCredit?.(recorded, toKey);
    this.#logger.info(
      {
        stackId: String(stack.stackId),
        keys: toKeys.size,
        refundedWei: String(recorded),
        creditedWei: String(toKey),
      },
      "a stack's refund was credited",
    );
  }

  /**
   * A refund is paid only once the stack's settlement is finalized (`AttestationRegistry`): its held charges are
   * settled here by what it paid. True when they were.
   */
  async #settleHeld(stackId: bigint): Promise<boolean> {
    if (!this.#c.settleHeld) return false;
    const settlement = await getSettlement(this.#c.chain, stackId);
    if (Number(settlement.phase) !== SettlementPhase.Finalized) return false;
    await this.#c.settleHeld(stackId, BigInt(settlement.units));
    return true;
  }
}
