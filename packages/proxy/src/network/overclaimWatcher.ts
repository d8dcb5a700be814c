import {
  type ChainContext,
  ChallengeStatus,
  challengeLeafIndex,
  challengeSettlement,
  finalizeSettlement,
  getChallenge,
  getSettlement,
  resolveChallenge,
  SettlementPhase,
  timeoutSettlement,
  withdrawBalance,
} from "@atoma/chain";
import { atomaVaultAbi, challengeManagerAbi, stackManagerAbi } from "@atoma/contracts";
import { type Logger, leafHash, leafOf, silentLogger } from "@atoma/core";
import { decodeFunctionData } from "viem";
import type { StackPool } from "./stackPool.js";

/** An owner challenge with a receipt, or of a leaf's index. */
export type ChallengeKind = "receipt" | "index";

/** How an owner challenge went: `opened` waits for the node's answer. */
export type ChallengeOutcome = "upheld" | "opened" | "dismissed" | "unprovable";

export interface OverclaimWatcherOptions {
  /** Stacks that expired longer ago than this are no longer watched (their settlement is over). */
  watchSeconds: bigint;
  /** Challenge over-claims (else only log them). @default true */
  challenge?: boolean | undefined;
}

/** How far back (blocks) the logs are read for a challenge opened before a restart. */
const RECOVERY_BLOCKS = 100_000n;

/** A stack of the pool's, as the watcher audits it. */
type WatchedStack = Awaited<ReturnType<StackPool["stacksExpiringAfter"]>>[number];

interface OpenChallenge {
  kind: ChallengeKind;
  stackId: bigint;
  nodeId: bigint;
  answerDeadline: bigint;
}

/**
 * Watches the settlements of the gateway's stacks. A settlement that claims more units than the running total of
 * the highest receipt the gateway holds is challenged as its owner: with that receipt when it is the settled last
 * leaf or beyond the settled count (the signature proves the over-claim at once), else by the index of the first
 * leaf past every request the gateway signed (a made-up leaf the node cannot show the gateway's signature for; it is
 * resolved, slashing the node, once the answer deadline passes). An over-claim within requests the gateway signed
 * but holds no receipt for (a receipt withheld) is challenged by the first such index when it exceeds the unit
 * bounds the gateway signed for them: the node must show that leaf with units within its signed `maxUnits`, or it
 * is slashed. One within those bounds is only logged (the node could prove it, and would take the bond). Accepted settlements past their challenge window are
 * paid out and stacks never settled by their deadline timed out (anyone may do either), and the vault balance that
 * refunds and slash shares build up is withdrawn to the wallet.
 */
export class OverclaimWatcher {
  readonly #pool: StackPool;
  readonly #chain: ChainContext;
  readonly #o: OverclaimWatcherOptions;
  readonly #logger: Logger;
  readonly #onChallenge: ((kind: ChallengeKind, outcome: ChallengeOutcome) => void) | undefined;
  /** Stacks whose accepted settlement was checked, and those whose settlement is over. */
  readonly #checked = new Set<bigint>();
  readonly #done = new Set<bigint>();
  readonly #open = new Map<bigint, OpenChallenge>();
  /** Disputed stacks whose challenge was looked for in the logs. */
  readonly #recovered = new Set<bigint>();

  constructor(
    components: {
      pool: StackPool;
      chain: ChainContext;
      onChallenge?: ((kind: ChallengeKind, outcome: ChallengeOutcome) => void) | undefined;
      logger?: Logger | undefined;
    },
    options: OverclaimWatcherOptions,
  ) {
    this.#pool = components.pool;
    this.#chain = components.chain;
    this.#o = options;
    this.#onChallenge = components.onChallenge;
    this.#logger = (components.logger ?? silentLogger).child({ module: "overclaim-watcher" });
  }

  async pass(signal?: AbortSignal): Promise<void> {
    const now = (await this.#chain.publicClient.getBlock()).timestamp;
    for (const stack of await this.#pool.stacksExpiringAfter(now - this.#o.watchSeconds)) {
      if (signal?.aborted) return;
      if (this.#done.has(stack.stackId)) continue;
      try {
        await this.#check(stack, now);
      } catch (error) {
        this.#logger.warn({ stackId: String(stack.stackId), err: error }, "checking a settlement failed");
      }
    }
    await this.#resolveOpen(now);
    await this.#withdraw();
  }

  async #check(stack: WatchedStack, now: bigint): Promise<void> {
    const settlement = await getSettlement(this.#chain, stack.stackId);
    const phase: number = settlement.phase;
    if (
      phase === SettlementPhase.Finalized ||
      phase === SettlementPhase.Failed ||
      phase === SettlementPhase.TimedOut
    ) {
      this.#done.add(stack.stackId);
      return;
    }
    if (phase === SettlementPhase.Disputed) return this.#recoverChallenge(stack, now);
    if (phase === SettlementPhase.None) return this.#timeOutIfUnsettled(stack, now);
    if (phase !== SettlementPhase.Accepted) return;
    if (!this.#checked.has(stack.stackId) && now <= settlement.windowEnds) {
      // Marked once done, or refused by the contract (a leaf or index already proven, the cap): a challenge that
      // failed to go out otherwise (the RPC, the bond) is tried again at the next pass.
      try {
        await this.#audit(stack, BigInt(settlement.units), BigInt(settlement.requestCount));
      } catch (error) {
        if (!(error instanceof Error && "code" in error && error.code === "contract_reverted")) throw error;
        this.#logger.warn(
          { stackId: String(stack.stackId), err: error },
          "the contract refused the challenge",
        );
      }
      this.#checked.add(stack.stackId);
      return;
    }
    if (now > settlement.windowEnds) {
      try {
        await this.#pool.withWallet(() => finalizeSettlement(this.#chain, { stackIds: [stack.stackId] }));
      } catch (error) {
        // Its node (or anyone) may have paid it out first.
        const phase: number = (await getSettlement(this.#chain, stack.stackId)).phase;
        if (phase !== SettlementPhase.Finalized) throw error;
      }
      this.#done.add(stack.stackId);
    }
  }

  /** Challenges the settlement when it claims more than the gateway's receipts show. */
  async #audit(stack: WatchedStack, claimed: bigint, count: bigint): Promise<void> {
    const { stackId, nodeId } = stack;
    const last = await this.#pool.lastReceipt(stackId);
    const held = last?.fields.cumulativeUnits ?? 0n;
    if (claimed <= held) return;
    if (this.#o.challenge === false) {
      this.#logger.error(
        { stackId: String(stackId), nodeId: String(nodeId), claimed: String(claimed), held: String(held) },
        "a node claimed more units than the gateway's receipts show (challenges are off)",
      );
      return;
    }
    const seen = {
      stackId: String(stackId),
      nodeId: String(nodeId),
      claimed: String(claimed),
      held: String(held),
      requestCount: String(count),
    };
    if (last && last.fields.leafIndex + 1n >= count) {
      const opened = await this.#pool.withWallet(() =>
        challengeSettlement(this.#chain, {
          stackId,
          response: last.fields,
          signature: last.signature,
        }),
      );
      if (!opened.upheld)
        this.#open.set(opened.challengeId, {
          kind: "receipt",
          stackId,
          nodeId,
          answerDeadline: opened.answerDeadline,
        });
      this.#onChallenge?.("receipt", opened.upheld ? "upheld" : "opened");
      this.#logger.error(
        { ...seen, challengeId: String(opened.challengeId), upheld: opened.upheld, tx: opened.hash },
        "a node claimed more units than the gateway's last receipt: challenged with the receipt",
      );
      return;
    }
    const leaves = await this.#receiptless(stack, last?.fields.leafIndex, claimed - held, count);
    if (leaves.length === 0) {
      this.#onChallenge?.("index", "unprovable");
      this.#logger.warn(
        seen,
        "a node claimed more units than the gateway's receipts show, within the bounds it signed for the leaves it holds no receipt for: nothing to challenge",
      );
      return;
    }
    for (const [i, leafIndex] of leaves.entries()) {
      let opened: Awaited<ReturnType<typeof challengeLeafIndex>>;
      try {
        opened = await this.#pool.withWallet(() => challengeLeafIndex(this.#chain, { stackId, leafIndex }));
      } catch (error) {
        // The first refusal is the contract's word on the stack (the caller logs it); a later one is the cap.
        if (i === 0) throw error;
        this.#logger.warn(
          { ...seen, leafIndex: String(leafIndex), err: error },
          "a further index challenge was refused",
        );
        return;
      }
      this.#open.set(opened.challengeId, {
        kind: "index",
        stackId,
        nodeId,
        answerDeadline: opened.answerDeadline,
      });
      this.#onChallenge?.("index", "opened");
      this.#logger.error(
        { ...seen, leafIndex: String(leafIndex), challengeId: String(opened.challengeId), tx: opened.hash },
        "a node settled more than the gateway's receipts and signed bounds allow: challenged by index",
      );
    }
  }

  /**
   * The leaves to challenge by index among those past the last accepted receipt (`lastReceipted`) that the
   * settlement counts: the first the gateway never signed (the node cannot show a signature for it: gap leaves
   * between signed ones included), alone; else, when the units claimed above the receipts (`excess`) exceed the
   * sum of the bounds signed at each of them (a set: each nonce its own), every one of them, the last first (some
   * leaf claims more than its request allowed); else none (the node could prove each). A stack signed before
   * bounds were kept per nonce goes by its high-water marks (`signedBelowNonce`, `signedMaxUnits`).
   */
  async #receiptless(
    stack: WatchedStack,
    lastReceipted: bigint | undefined,
    excess: bigint,
    count: bigint,
  ): Promise<bigint[]> {
    const first = lastReceipted === undefined ? 0n : lastReceipted + 1n;
    if (first >= count) return [];
    const bounds = await this.#pool.signedBounds(stack.stackId);
    const legacy = bounds.size === 0;
    const boundAt = (i: bigint): bigint | "unsigned" | "unbounded" => {
      const bound = bounds.get(i);
      if (bound !== undefined) return bound;
      if (!legacy || i >= stack.signedBelowNonce) return "unsigned";
      return stack.signedMaxUnits === 0n ? "unbounded" : stack.signedMaxUnits;
    };
    // Past `first` plus every nonce signed, a leaf is one the gateway never signed: the scan ends there.
    const scanEnd = first + BigInt(Math.max(bounds.size, Number(stack.signedBelowNonce))) + 1n;
    const end = count < scanEnd ? count : scanEnd;
    const leaves: bigint[] = [];
    let allowed = 0n;
    for (let i = first; i < end; i++) {
      const bound = boundAt(i);
      if (bound === "unsigned") return [i];
      if (bound === "unbounded") return [];
      allowed += bound;
      leaves.push(i);
    }
    return excess > allowed ? leaves.reverse() : [];
  }

  /** A stack its node did not settle by the deadline is timed out: the gateway is refunded, the node slashed. */
  async #timeOutIfUnsettled(stack: { stackId: bigint; nodeId: bigint }, now: bigint): Promise<void> {
    const deadline = await this.#chain.publicClient.readContract({
      address: this.#chain.addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "settleDeadline",
      args: [stack.stackId],
    });
    if (now <= deadline) return;
    const timedOut = await this.#pool.withWallet(() =>
      timeoutSettlement(this.#chain, { stackId: stack.stackId }),
    );
    this.#done.add(stack.stackId);
    this.#logger.warn(
      { stackId: String(stack.stackId), nodeId: String(stack.nodeId), refunded: String(timedOut.refunded) },
      "a node did not settle a stack of the gateway's by its deadline: timed out, the escrow refunded",
    );
  }

  /**
   * A disputed settlement of the gateway's with no challenge of its own known (a restart since it opened one): the
   * last challenge opened on the stack, from the chain's logs, is followed again when it is the gateway's and open.
   */
  async #recoverChallenge(stack: { stackId: bigint; nodeId: bigint }, now: bigint): Promise<void> {
    if (this.#recovered.has(stack.stackId)) return;
    if ([...this.#open.values()].some((open) => open.stackId === stack.stackId)) return;
    this.#recovered.add(stack.stackId);
    const latest = await this.#chain.publicClient.getBlockNumber();
    const logs = await this.#chain.publicClient.getContractEvents({
      address: this.#chain.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId: stack.stackId },
      fromBlock: latest > RECOVERY_BLOCKS ? latest - RECOVERY_BLOCKS : 0n,
    });
    const challengeId = logs.at(-1)?.args.challengeId;
    if (challengeId === undefined) return;
    const challenge = await getChallenge(this.#chain, challengeId);
    const mine = challenge.owner.toLowerCase() === this.#chain.walletClient.account.address.toLowerCase();
    if (!mine || challenge.status !== ChallengeStatus.Open) return;
    const kind = BigInt(challenge.leaf) === 0n ? "index" : "receipt";
    this.#open.set(challengeId, { kind, ...stack, answerDeadline: challenge.answerDeadline });
    this.#logger.info(
      { stackId: String(stack.stackId), challengeId: String(challengeId), now: String(now) },
      "following an open challenge of the gateway's again",
    );
  }

  /** Resolves the gateway's challenges the node left unanswered past the deadline (the node is slashed). */
  async #resolveOpen(now: bigint): Promise<void> {
    for (const [challengeId, open] of this.#open) {
      const challenge = await getChallenge(this.#chain, challengeId);
      const status: number = challenge.status;
      const ids = {
        challengeId: String(challengeId),
        stackId: String(open.stackId),
        nodeId: String(open.nodeId),
      };
      if (status === ChallengeStatus.Dismissed) {
        this.#open.delete(challengeId);
        this.#onChallenge?.(open.kind, "dismissed");
        this.#logger.warn(ids, "the node answered the gateway's challenge: the bond went to its operator");
        if (open.kind === "index")
          await this.#checkRevealed(challengeId, open).catch((error: unknown) =>
            this.#logger.warn({ ...ids, err: error }, "reading an index challenge's answer failed"),
          );
      } else if (status === ChallengeStatus.Upheld) {
        this.#open.delete(challengeId);
      } else if (now > open.answerDeadline) {
        const resolved = await this.#pool.withWallet(() => resolveChallenge(this.#chain, { challengeId }));
        this.#open.delete(challengeId);
        this.#onChallenge?.(open.kind, "upheld");
        this.#logger.error(
          { ...ids, slashed: String(resolved.slashed), ownerShare: String(resolved.ownerShare) },
          "the node did not answer the gateway's challenge: slashed, its settlement failed",
        );
      }
    }
  }

  /**
   * An answered index challenge reveals the leaf before the one challenged (the chain ties the running total to
   * it): when the gateway holds an accepted receipt for that leaf and the revealed one is not it, the settled tree
   * is not what the node signed, and the settlement is challenged with that receipt (the node cannot prove it).
   */
  async #checkRevealed(challengeId: bigint, open: OpenChallenge): Promise<void> {
    const resolved = await this.#chain.publicClient.getContractEvents({
      address: this.#chain.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeResolved",
      args: { challengeId },
      fromBlock: 0n,
    });
    const hash = resolved.at(-1)?.transactionHash;
    if (!hash) return;
    const tx = await this.#chain.publicClient.getTransaction({ hash });
    const call = decodeFunctionData({ abi: challengeManagerAbi, data: tx.input });
    if (call.functionName !== "answerIndexChallenge") return;
    const previous = call.args[6];
    if (call.args[1].leafIndex === 0n) return;
    const held = (await this.#pool.receiptsOf(open.stackId)).find(
      (r) => !r.refused && r.receipt.fields.leafIndex === previous.leafIndex,
    );
    if (!held || leafHash(leafOf(held.receipt.fields)) === leafHash(previous)) return;
    const opened = await this.#pool.withWallet(() =>
      challengeSettlement(this.#chain, {
        stackId: open.stackId,
        response: held.receipt.fields,
        signature: held.receipt.signature,
      }),
    );
    if (!opened.upheld)
      this.#open.set(opened.challengeId, {
        kind: "receipt",
        stackId: open.stackId,
        nodeId: open.nodeId,
        answerDeadline: opened.answerDeadline,
      });
    this.#onChallenge?.("receipt", opened.upheld ? "upheld" : "opened");
    this.#logger.error(
      {
        stackId: String(open.stackId),
        leafIndex: String(previous.leafIndex),
        challengeId: String(opened.challengeId),
      },
      "a node's answer revealed a leaf that is not the receipt it signed: challenged with the receipt",
    );
  }

  /** Moves the wallet's vault balance (refunds, slash shares, bonds returned) to the wallet. */
  async #withdraw(): Promise<void> {
    const account = this.#chain.walletClient.account.address;
    const balance = await this.#chain.publicClient.readContract({
      address: this.#chain.addresses.AtomaVault,
      abi: atomaVaultAbi,
      functionName: "balanceOf",
      args: [account],
    });
    if (balance === 0n) return;
    const withdrawn = await this.#pool.withWallet(() => withdrawBalance(this.#chain, { account }));
    this.#logger.info(
      { amount: String(withdrawn.amount), tx: withdrawn.hash },
      "refunds withdrawn from the vault",
    );
  }
}
