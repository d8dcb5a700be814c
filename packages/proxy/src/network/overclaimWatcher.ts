import {
  type ChainContext,
  ChallengeStatus,
  ContractRevertError,
  challengeLeafIndex,
  challengeLeafIndices,
  challengeSettlement,
  finalizeSettlement,
  getChallenge,
  getSettlement,
  heldBondsState,
  MAX_INDEX_BATCH,
  payHeldBonds,
  resolveChallenge,
  SettlementPhase,
  timeoutSettlement,
  withdrawBalance,
} from "@atoma/chain";
import { atomaTokenAbi, atomaVaultAbi, challengeManagerAbi, stackManagerAbi } from "@atoma/contracts";
import { type Logger, leafHash, leafOf, silentLogger } from "@atoma/core";
import { decodeFunctionData } from "viem";
import { BondsShortError } from "../errors.js";
import { affordableChallenges } from "./challengeOrder.js";
import type { DenialCheck, DeniedLeafProver } from "./deniedLeafProver.js";
import { DEFAULT_LOG_BLOCKS, readOwnChallenges } from "./ownChallengeLogs.js";
import { type ChallengeKey, keyOf, type OwnerChallengeBook } from "./ownerChallengeBook.js";
import { receiptlessLeaves, type SignedAt } from "./receiptlessLeaves.js";
import type { StackPool } from "./stackPool.js";

/** An owner challenge with a receipt, or of a leaf's index. */
export type ChallengeKind = "receipt" | "index";

/** How an owner challenge went: `opened` waits for the node's answer. */
export type ChallengeOutcome = "upheld" | "opened" | "dismissed" | "unprovable" | "bondsShort";

export interface OverclaimWatcherOptions {
  /** Stacks that expired longer ago than this are no longer watched (their settlement is over). */
  watchSeconds: bigint;
  /** Challenge over-claims (else only log them). @default true */
  challenge?: boolean | undefined;
  /** The most blocks one `eth_getLogs` call asks for (hosted RPCs cap the range). @default 2000 */
  maxLogBlocks?: bigint | undefined;
  /**
   * The first wait before a settled stack whose denied leaves' proofs could not be had is checked again (doubled at
   * each miss in the same phase, up to `DENIAL_BACKOFF_MAX_MS`). @default 30000
   */
  denialRetryMs?: number | undefined;
}

/** How many settlements are read at once. */
const READ_CONCURRENCY = 16;
/** The most settlements one `finalizeMany` pays out (its gas stays well under a block's). */
const FINALIZE_BATCH = 32;

/** Stacks whose denials are checked at once (each asks its node for proofs, one at a time). */
const DENIAL_CONCURRENCY = 4;
/** The most one pass spends checking denials. */
const DENIAL_PASS_MS = 30_000;
/** The first wait before a stack whose proofs could not be had is checked again (by default), and the longest. */
const DENIAL_BACKOFF_MS = 30_000;
const DENIAL_BACKOFF_MAX_MS = 3_600_000;

/** A stack of the pool's, as the watcher audits it. */
type WatchedStack = Awaited<ReturnType<StackPool["stacksExpiringAfter"]>>[number];

type Settlement = Awaited<ReturnType<typeof getSettlement>>;

/** A watched stack and its settlement, read at the start of a pass. */
interface ReadSettlement {
  stack: WatchedStack;
  settlement: Settlement;
}

/** Phases after which nothing of the settlement moves (its challenges still open aside). */
const OVER = new Set<number>([SettlementPhase.Finalized, SettlementPhase.Failed, SettlementPhase.TimedOut]);

/**
 * The settlements to audit this pass, the earliest window end first: accepted, or disputed by owner challenges
 * (which the contract still takes until the window ends), not audited yet, and their window not over.
 */
function auditsDue(read: ReadSettlement[], now: bigint, checked: Set<bigint>): ReadSettlement[] {
  return read
    .filter(({ stack, settlement }) => {
      const phase: number = settlement.phase;
      const challengeable =
        phase === SettlementPhase.Accepted ||
        (phase === SettlementPhase.Disputed && settlement.windowEnds > 0n);
      return challengeable && !checked.has(stack.stackId) && now <= settlement.windowEnds;
    })
    .sort((a, b) => (a.settlement.windowEnds < b.settlement.windowEnds ? -1 : 1));
}

/** A challenge the watcher means to open on a settlement. */
interface WantedChallenge {
  kind: ChallengeKind;
  leafIndex: bigint;
  /** The receipt a receipt challenge presents. */
  receipt?: HeldReceipt;
}

type HeldReceipt = NonNullable<Awaited<ReturnType<StackPool["lastReceipt"]>>>;

/**
 * Refusals that settle a wanted challenge for good: the index was challenged already, the leaf proven already, or
 * the stack's receipt challenges are used up. Any other failure (the window over, the RPC, the bond) leaves it to
 * the next pass, which looks at the settlement again.
 */
const FINAL_REFUSALS = new Set(["IndexAlreadyProven", "LeafAlreadyProven", "TooManyChallenges"]);

/** Refusals that mean the challenge was made already: its id is recovered from the logs. */
const ALREADY_MADE = new Set(["IndexAlreadyProven", "LeafAlreadyProven"]);

/**
 * Blocks after its send past which a receipt challenge the logs do not show is taken as never made and sent again
 * (an index challenge is sent again at once: the chain refuses an index challenged twice, never a receipt).
 */
const RECEIPT_PENDING_BLOCKS = 64n;

/** Blocks read again below the head a lookup last reached (an RPC whose logs lag its head). */
const RESCAN_BLOCKS = 16n;

type OpenChallenge = Awaited<ReturnType<OwnerChallengeBook["open"]>>[number];

/**
 * Watches the settlements of the gateway's stacks. A settlement that claims more units than the running total of
 * the highest receipt the gateway holds is challenged as its owner: with that receipt when it is the settled last
 * leaf or beyond the settled count (the signature proves the over-claim at once), else by the index of the first
 * leaf past every request the gateway signed (a made-up leaf the node cannot show the gateway's signature for; it is
 * resolved, slashing the node, once the answer deadline passes). An over-claim within requests the gateway signed
 * but holds no receipt for (a receipt withheld) that exceeds the unit bounds the gateway signed for them is
 * challenged by index: every such leaf at once, earliest first, with the last receipt
 * beside them (the first answer's running total follows from the leaf at that receipt), so the leaf holding the
 * excess cannot be answered wherever the node put it, and the node is slashed. The contract takes them all while
 * any is open; one that fails to go out is tried again at the next pass until the window ends, and only a refusal
 * that settles it for good (`FINAL_REFUSALS`) stops it. One within those bounds is only logged (the node could
 * prove it, and would take the bond). Each challenge is written to the gateway's database (`OwnerChallengeBook`)
 * before it is sent, and followed from there until resolved (review rev W-2, W-3): a restart neither sends it twice
 * nor forgets it, however old; the logs are read only for the id a transaction that outlived its wait left, in
 * ranges of `maxLogBlocks`. Accepted settlements past their challenge window are
 * paid out and stacks never settled by their deadline timed out (anyone may do either), and the vault balance that
 * refunds and slash shares build up is withdrawn to the wallet.
 */
export class OverclaimWatcher {
  readonly #pool: StackPool;
  readonly #chain: ChainContext;
  readonly #o: OverclaimWatcherOptions;
  readonly #logger: Logger;
  readonly #onChallenge: ((kind: ChallengeKind, outcome: ChallengeOutcome) => void) | undefined;
  readonly #onSettled: ((stack: WatchedStack, paidUnits: bigint) => Promise<void>) | undefined;
  readonly #deniedLeaves: DeniedLeafProver | undefined;
  /** The challenges sent, open and resolved. */
  readonly #book: OwnerChallengeBook;
  /** Stacks whose accepted settlement was checked (every challenge wanted opened), and those whose settlement is over. */
  readonly #checked = new Set<bigint>();
  readonly #done = new Set<bigint>();
  /** Stacks whose settlement is over with a node's denial not yet resolved against it (`#checkDenialsDue`). */
  readonly #denialsOpen = new Map<bigint, ReadSettlement>();
  /** By stack, when its denials are next checked after a check that could not read the node's proofs. */
  readonly #denialBackoff = new Map<bigint, { at: number; waitMs: number; phase: number }>();
  /** Stacks whose challenges were looked for in the logs (at the first pass, or met disputed since). */
  readonly #recovered = new Set<bigint>();
  /**
   * By challenge sent (`stack:kind:leaf`), the head its logs were last read to (review rev3 W3-5): the next read
   * starts there (less `RESCAN_BLOCKS`), not at the block it was first sent at. Kept in memory: a restart reads once
   * from that block again.
   */
  readonly #scannedTo = new Map<string, bigint>();
  /** The first pass recovered the wallet's challenges on every watched stack. */
  #started = false;

  constructor(
    components: {
      pool: StackPool;
      chain: ChainContext;
      /** Where the challenges sent are kept (the gateway's database). */
      challenges: OwnerChallengeBook;
      onChallenge?: ((kind: ChallengeKind, outcome: ChallengeOutcome) => void) | undefined;
      /**
       * A stack's settlement is over: `paidUnits` is what its node was paid (0 when it failed or timed out). Throwing
       * leaves the stack to the next pass.
       */
      onSettled?: ((stack: WatchedStack, paidUnits: bigint) => Promise<void>) | undefined;
      /** Checks each settled root against the nonces freed on the node's signed denial (fraud proofs). */
      deniedLeaves?: DeniedLeafProver | undefined;
      logger?: Logger | undefined;
    },
    options: OverclaimWatcherOptions,
  ) {
    this.#pool = components.pool;
    this.#chain = components.chain;
    this.#o = options;
    this.#onChallenge = components.onChallenge;
    this.#onSettled = components.onSettled;
    this.#deniedLeaves = components.deniedLeaves;
    this.#book = components.challenges;
    this.#logger = (components.logger ?? silentLogger).child({ module: "overclaim-watcher" });
  }

  /**
   * One round: every settlement still inside its challenge window is audited first, the earliest window end first
   * (review challenges MEDIUM-1: a node that left many honest settlements unpaid made a pass that finalized them
   * one transaction each reach its over-claim after the window); then the gateway's challenges past their answer
   * deadline are resolved, the settlements past their window paid out in batches, stacks never settled timed out,
   * and the vault balance withdrawn; last, settled roots are checked against the nodes' signed denials
   * (`#checkDenialsDue`). The challenges followed are the database's, whatever the stack's age; the logs
   * are read (best effort, never holding the audits up) for the ids of those sent whose transaction outlived its
   * wait, and, at the first round and on a stack met disputed, for challenges opened before the database kept them.
   */
  async pass(signal?: AbortSignal): Promise<void> {
    const now = (await this.#chain.publicClient.getBlock()).timestamp;
    const watched = await this.#watchedStacks(now);
    const stacks = watched.filter((stack) => !this.#done.has(stack.stackId));
    if (!this.#started)
      try {
        // Only a database that kept no challenge yet (before version 8) may miss some the wallet opened.
        if (await this.#book.isEmpty()) await this.#recover(stacks);
        this.#started = true;
      } catch (error) {
        // The audits must not wait on it (an RPC refusing the log range): tried again at the next pass.
        this.#logger.warn({ err: error }, "recovering the wallet's challenges from the logs failed");
      }
    await this.#lookUpSent();
    const read = await this.#readSettlements(stacks);
    for (const { stack, settlement } of read) {
      if (signal?.aborted) return;
      if (settlement.phase !== SettlementPhase.Disputed || this.#recovered.has(stack.stackId)) continue;
      // Disputed by challenges the database holds: nothing to look for.
      if ((await this.#book.madeOn(stack.stackId)).size > 0) {
        this.#recovered.add(stack.stackId);
        continue;
      }
      await this.#recover([stack]).catch((error: unknown) =>
        this.#logger.warn({ stackId: String(stack.stackId), err: error }, "recovering challenges failed"),
      );
    }
    for (const { stack, settlement } of auditsDue(read, now, this.#checked)) {
      if (signal?.aborted) return;
      try {
        // Marked once every challenge wanted went out or was refused for good; one that failed to go out
        // otherwise (the RPC, the bond, the window closing under it) leaves the stack to the next pass.
        await this.#audit(stack, BigInt(settlement.units), BigInt(settlement.requestCount));
        this.#checked.add(stack.stackId);
      } catch (error) {
        this.#logger.warn({ stackId: String(stack.stackId), err: error }, "checking a settlement failed");
      }
    }
    if (signal?.aborted) return;
    await this.#resolveOpen(now);
    const due = read.filter(
      ({ settlement }) => settlement.phase === SettlementPhase.Accepted && now > settlement.windowEnds,
    );
    await this.#finalizeDue(due.map(({ stack }) => stack.stackId));
    await this.#releaseHeld(read, now);
    for (const { stack, settlement } of read) {
      if (signal?.aborted) return;
      if (settlement.phase !== SettlementPhase.None) continue;
      await this.#timeOutIfUnsettled(stack, now).catch((error: unknown) =>
        this.#logger.warn({ stackId: String(stack.stackId), err: error }, "timing out a stack failed"),
      );
    }
    await this.#withdraw();
    // Last (review leaf denials MEDIUM-1): each asks the node for proofs, which a node may stall.
    await this.#checkDenialsDue(read, signal);
  }

  /**
   * The stacks expiring within `watchSeconds`, and those older still whose node's denials are not yet checked against
   * their settlement (review leaf denials LOW-2: a settle window may be far longer than the watch); denials of a stack
   * the gateway no longer holds are dropped.
   */
  async #watchedStacks(now: bigint): Promise<WatchedStack[]> {
    const watched = await this.#pool.stacksExpiringAfter(now - this.#o.watchSeconds);
    if (!this.#deniedLeaves) return watched;
    const ids = new Set(watched.map((stack) => stack.stackId));
    const older = (await this.#deniedLeaves.stacksWithDenials()).filter((id) => !ids.has(id));
    if (older.length === 0) return watched;
    const held = new Map((await this.#pool.stacksExpiringAfter(0n)).map((stack) => [stack.stackId, stack]));
    for (const id of older) {
      const stack = held.get(id);
      if (stack) watched.push(stack);
      else await this.#deniedLeaves.forgetStack(id);
    }
    return watched;
  }

  /**
   * The settlement of each stack, read a few at a time; stacks whose settlement is over are set aside for good
   * (their challenges still open are followed from the database). A read that fails leaves its stack to the next pass.
   */
  async #readSettlements(stacks: WatchedStack[]): Promise<ReadSettlement[]> {
    const read: ReadSettlement[] = [];
    const over: ReadSettlement[] = [];
    for (let i = 0; i < stacks.length; i += READ_CONCURRENCY) {
      const chunk = stacks.slice(i, i + READ_CONCURRENCY);
      const settled = await Promise.allSettled(
        chunk.map((stack) => getSettlement(this.#chain, stack.stackId)),
      );
      settled.forEach((result, k) => {
        const stack = chunk[k] as WatchedStack;
        if (result.status === "rejected") {
          this.#logger.warn(
            { stackId: String(stack.stackId), err: result.reason },
            "reading a settlement failed",
          );
          return;
        }
        const phase: number = result.value.phase;
        if (OVER.has(phase)) over.push({ stack, settlement: result.value });
        else read.push({ stack, settlement: result.value });
      });
    }
    for (const { stack, settlement } of over) await this.#settled(stack, settlement);
    return read;
  }

  /**
   * A settlement that is over: what it paid is handed to `onSettled` (held sealed charges are settled against it),
   * then the stack is set aside for good. A failing `onSettled` leaves it to the next pass.
   */
  async #settled(stack: WatchedStack, settlement: ReadSettlement["settlement"]): Promise<void> {
    const phase: number = settlement.phase;
    // Paid out or not, the settled root still convicts a leaf its node denied (a proof after payout still slashes):
    // checked at the end of the pass, and again at later ones until resolved, though the stack is otherwise set aside.
    if (this.#deniedLeaves) this.#denialsOpen.set(stack.stackId, { stack, settlement });
    try {
      await this.#onSettled?.(stack, phase === SettlementPhase.Finalized ? BigInt(settlement.units) : 0n);
      this.#done.add(stack.stackId);
    } catch (error) {
      this.#logger.warn({ stackId: String(stack.stackId), err: error }, "settling held charges failed");
    }
  }

  /**
   * The settled roots checked against the nodes' signed denials (`DeniedLeafProver`), after everything else of the
   * pass (review leaf denials MEDIUM-1: a node that denied many reads and stalls its proofs held every audit ~10 s a
   * denial): `DENIAL_CONCURRENCY` stacks at once, within `DENIAL_PASS_MS` (the rest waits for the next pass), a stack
   * whose proofs could not be had waiting longer each time (`denialRetryMs`, doubled up to `DENIAL_BACKOFF_MAX_MS`;
   * its settlement moving on, paid out, is checked at once).
   */
  async #checkDenialsDue(read: ReadSettlement[], signal?: AbortSignal): Promise<void> {
    if (!this.#deniedLeaves || signal?.aborted) return;
    const denied = new Set(await this.#deniedLeaves.stacksWithDenials().catch(() => []));
    const due = [...this.#denialsOpen.values(), ...read].filter(
      ({ stack, settlement }) =>
        (this.#denialsOpen.has(stack.stackId) || denied.has(stack.stackId)) &&
        this.#denialCheckDue(stack.stackId, settlement),
    );
    const budget = AbortSignal.timeout(DENIAL_PASS_MS);
    const stop = signal ? AbortSignal.any([signal, budget]) : budget;
    const work = async (): Promise<void> => {
      for (let next = due.shift(); next !== undefined && !stop.aborted; next = due.shift()) {
        const { stack, settlement } = next;
        const check = await this.#checkDenials(stack, settlement, stop);
        if (check !== "pending") {
          this.#denialsOpen.delete(stack.stackId);
          this.#denialBackoff.delete(stack.stackId);
        } else if (BigInt(settlement.root) !== 0n) {
          const before = this.#denialBackoff.get(stack.stackId);
          const first = this.#o.denialRetryMs ?? DENIAL_BACKOFF_MS;
          const waitMs =
            before?.phase === settlement.phase ? Math.min(before.waitMs * 2, DENIAL_BACKOFF_MAX_MS) : first;
          this.#denialBackoff.set(stack.stackId, {
            at: Date.now() + waitMs,
            waitMs,
            phase: settlement.phase,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: DENIAL_CONCURRENCY }, work));
  }

  /** Not waiting after a check that could not read the proofs, or the settlement moved on since (paid out). */
  #denialCheckDue(stackId: bigint, settlement: Settlement): boolean {
    const backoff = this.#denialBackoff.get(stackId);
    return backoff === undefined || backoff.phase !== settlement.phase || backoff.at <= Date.now();
  }

  /** One stack's denials checked (`DeniedLeafProver.check`); a failure waits for a later pass. */
  async #checkDenials(
    stack: WatchedStack,
    settlement: ReadSettlement["settlement"],
    signal: AbortSignal,
  ): Promise<DenialCheck> {
    if (!this.#deniedLeaves) return "resolved";
    const phase: number = settlement.phase;
    const settled = {
      root: settlement.root,
      requestCount: BigInt(settlement.requestCount),
      over: OVER.has(phase),
    };
    return await this.#deniedLeaves.check(stack, settled, signal).catch((error: unknown) => {
      this.#logger.warn({ stackId: String(stack.stackId), err: error }, "checking denied leaves failed");
      return "pending" as const;
    });
  }

  /**
   * Pays out accepted settlements past their window, `FINALIZE_BATCH` to a transaction (after every audit of the
   * pass: review challenges MEDIUM-1). A batch refused because one of them was paid out meanwhile (its node may
   * finalize its own) goes again with those still accepted.
   */
  async #finalizeDue(stackIds: bigint[]): Promise<void> {
    for (let i = 0; i < stackIds.length; i += FINALIZE_BATCH) {
      let batch = stackIds.slice(i, i + FINALIZE_BATCH);
      for (let attempt = 0; attempt < 2 && batch.length > 0; attempt++) {
        try {
          const ids = batch;
          // Set aside by the next pass's read, which hands what was paid to `onSettled`.
          await this.#pool.withWallet(() => finalizeSettlement(this.#chain, { stackIds: ids }));
          break;
        } catch (error) {
          const still: bigint[] = [];
          for (const id of batch) {
            const phase: number = (await getSettlement(this.#chain, id)).phase;
            if (phase === SettlementPhase.Accepted) still.push(id);
          }
          if (still.length === batch.length || attempt === 1) {
            this.#logger.warn({ stacks: batch.map(String), err: error }, "paying out settlements failed");
            break;
          }
          batch = still;
        }
      }
    }
  }

  /**
   * A settlement still disputed past its window with no challenge open is held for the check of the leaves a late
   * index answer revealed (review rev4 R4-6): once that check is over it is released (`payHeld`, anyone may), so a
   * node gone quiet cannot leave the owner's escrow locked; the next pass pays it out.
   */
  async #releaseHeld(read: ReadSettlement[], now: bigint): Promise<void> {
    for (const { stack, settlement } of read) {
      const phase: number = settlement.phase;
      if (phase !== SettlementPhase.Disputed || settlement.windowEnds === 0n || now <= settlement.windowEnds)
        continue;
      try {
        const state = await heldBondsState(this.#chain, stack.stackId);
        if (!state.heldOpen || now <= state.releaseAfter) continue;
        await this.#pool.withWallet(() => payHeldBonds(this.#chain, { stackId: stack.stackId }));
      } catch (error) {
        this.#logger.warn(
          { stackId: String(stack.stackId), err: error },
          "releasing a held settlement failed",
        );
      }
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
      await this.#openAll(
        stack,
        [{ kind: "receipt", leafIndex: last.fields.leafIndex, receipt: last }],
        seen,
      );
      return;
    }
    const plan = await this.#receiptless(stack, last?.fields.leafIndex, claimed - held, count);
    if (plan.leaves.length === 0) {
      this.#onChallenge?.("index", "unprovable");
      this.#logger.warn(
        seen,
        "a node claimed more units than the gateway's receipts show, within the bounds it signed for the leaves it holds no receipt for: nothing to challenge",
      );
      return;
    }
    // Beside the leaves, the last receipt: the first leaf's answer follows from the leaf at that receipt, which the
    // node must then prove is the receipt (else it moved the excess there). The receipt and the last leaf (whose
    // total must be the units settled) go first, then the rest, batched (review fresh 2 MEDIUM-C: the node sets
    // how many there are, so they must not cost one transaction each).
    const wanted: WantedChallenge[] = [];
    if (last && !plan.unsigned)
      wanted.push({ kind: "receipt", leafIndex: last.fields.leafIndex, receipt: last });
    const lastLeaf = plan.leaves.at(-1);
    if (lastLeaf !== undefined) wanted.push({ kind: "index", leafIndex: lastLeaf });
    for (const leafIndex of plan.leaves.slice(0, -1)) wanted.push({ kind: "index", leafIndex });
    await this.#openAll(stack, wanted, seen);
  }

  /** Opens each wanted challenge not opened yet, in order; throws (for the next pass) on a refusal not final. */
  async #openAll(
    stack: WatchedStack,
    wanted: WantedChallenge[],
    seen: Record<string, string>,
  ): Promise<void> {
    const { stackId } = stack;
    const opened = await this.#book.madeOn(stackId);
    const wantedNow = wanted.filter((want) => !opened.has(keyOf(want)));
    // The receipt and the last leaf (the first index) pin the totals: they go first; past the bonds the wallet
    // can pay, the rest are drawn at random and the others wait for a later pass (review challenges LOW-3).
    const pinned = wantedNow.findIndex((want) => want.kind === "index") + 1;
    const affordable = await this.#affordableBonds(wantedNow, seen);
    const todo = affordableChallenges(wantedNow, pinned, affordable);
    const firstIndex = todo.findIndex((want) => want.kind === "index");
    let i = 0;
    while (i < todo.length) {
      const want = todo[i] as WantedChallenge;
      // Consecutive index challenges after the first go in batches (the first, the last leaf, goes alone).
      const batch: WantedChallenge[] = [];
      if (want.kind === "index" && i > firstIndex)
        while (i + batch.length < todo.length && batch.length < MAX_INDEX_BATCH) {
          const next = todo[i + batch.length] as WantedChallenge;
          if (next.kind !== "index") break;
          batch.push(next);
        }
      if (batch.length > 1) {
        i += batch.length;
        let results: Awaited<ReturnType<typeof challengeLeafIndices>> | undefined;
        // Only those this gateway claimed (review rev3 W3-1): another sharing the database sends the rest.
        let claimed: WantedChallenge[] = [];
        try {
          results = await this.#claimAndSend(stack, batch, (won) => {
            claimed = won;
            return challengeLeafIndices(this.#chain, { stackId, leafIndices: won.map((b) => b.leafIndex) });
          });
        } catch (error) {
          // Refused by the chain: nothing of the batch was made. Any other failure (the wait given up) leaves them
          // sent, their ids looked for in the logs.
          if (error instanceof ContractRevertError) await this.#book.failed(stackId, claimed);
          if (!(error instanceof ContractRevertError && FINAL_REFUSALS.has(error.errorName))) throw error;
          // One of them was challenged already (maybe by a transaction that outlived its wait): the rest go one by
          // one, each refusal settling only its own.
          for (const one of claimed) await this.#openOne(stack, one, seen);
          continue;
        }
        if (results === undefined) continue;
        for (const [k, one] of claimed.entries()) {
          const result = results[k];
          if (result) await this.#recordOpened(stack, one, result, seen);
        }
        continue;
      }
      i += 1;
      await this.#openOne(stack, want, seen);
    }
    if (todo.length < wantedNow.length)
      throw new BondsShortError(BigInt(wantedNow.length - todo.length), stackId);
  }

  /**
   * How many of the wanted challenges the gateway's TOMA pays the bond of; says loudly when not all of them (the
   * rest wait for the next pass).
   */
  async #affordableBonds(todo: WantedChallenge[], seen: Record<string, string>): Promise<number> {
    if (todo.length === 0) return 0;
    const [, , bond] = await this.#chain.publicClient.readContract({
      address: this.#chain.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      functionName: "params",
    });
    const balance = await this.#chain.publicClient.readContract({
      address: this.#chain.addresses.AtomaToken,
      abi: atomaTokenAbi,
      functionName: "balanceOf",
      args: [this.#chain.walletClient.account.address],
    });
    const needed = bond * BigInt(todo.length);
    if (balance >= needed) return todo.length;
    this.#onChallenge?.("index", "bondsShort");
    this.#logger.error(
      { ...seen, challenges: todo.length, bondsNeeded: String(needed), balance: String(balance) },
      "the gateway's TOMA cannot pay the bond of every challenge this over-claim needs: fund it now, the window is running",
    );
    return Number(balance / bond);
  }

  /**
   * Claims `keys` (those another gateway has not) and sends the claimed under the shared wallet's lock (review R4-3):
   * a row is never `sending` while its gateway waits for the lock, so another, holding the lock, never finds it sent
   * with no log and sends it again. Undefined when none was claimed (nothing sent).
   */
  #claimAndSend<K extends ChallengeKey, R>(
    stack: { stackId: bigint; nodeId: bigint },
    keys: readonly K[],
    send: (claimed: K[], sentBlock: bigint) => Promise<R>,
  ): Promise<R | undefined> {
    return this.#pool.withWallet(async () => {
      const sentBlock = await this.#chain.publicClient.getBlockNumber();
      const claimed = await this.#book.sending(stack, keys, sentBlock);
      return claimed.length === 0 ? undefined : send(claimed, sentBlock);
    });
  }

  async #openOne(stack: WatchedStack, want: WantedChallenge, seen: Record<string, string>): Promise<void> {
    const { stackId } = stack;
    if ((await this.#book.madeOn(stackId)).has(keyOf(want))) return;
    let sentBlock = 0n;
    let result: Awaited<ReturnType<typeof challengeLeafIndex>> | undefined;
    try {
      // Claimed by another gateway sharing the database (or made meanwhile): its sender follows it (review rev3 W3-1).
      result = await this.#claimAndSend(stack, [want], (_, block) => {
        sentBlock = block;
        return this.#challenge(stackId, want);
      });
    } catch (error) {
      if (!(error instanceof ContractRevertError)) throw error;
      if (!FINAL_REFUSALS.has(error.errorName)) {
        await this.#book.failed(stackId, [want]);
        throw error;
      }
      // Settled for good before anything else (review rev W-2: a failing log read wedged the audit here); one made
      // already has its id looked for in the logs, at this pass or the next.
      const made = ALREADY_MADE.has(error.errorName);
      await this.#book.refused(stack, want, made, sentBlock);
      this.#logger.warn(
        { ...seen, leafIndex: String(want.leafIndex), err: error },
        "the contract refused a challenge",
      );
      if (!made) return;
      // An index challenged already whose challenge the logs since this send cannot show (opened before a lost or
      // older database kept it): the chain never takes that index again, so it is refused for good rather than
      // sent again at every pass (review rev3 W3-2).
      if ((await this.#lookUpSent()) && error.errorName === "IndexAlreadyProven")
        await this.#book.refusedIfUnknown(stackId, want);
      return;
    }
    if (result === undefined) return;
    await this.#recordOpened(stack, want, result, seen);
  }

  async #recordOpened(
    stack: WatchedStack,
    want: WantedChallenge,
    result: Awaited<ReturnType<typeof challengeLeafIndex>>,
    seen: Record<string, string>,
  ): Promise<void> {
    const { stackId, nodeId } = stack;
    await this.#book.made({
      challengeId: result.challengeId,
      stackId,
      nodeId,
      kind: want.kind,
      leafIndex: want.leafIndex,
      open: !result.upheld,
      answerDeadline: result.answerDeadline,
      openedAt: result.blockNumber,
    });
    this.#onChallenge?.(want.kind, result.upheld ? "upheld" : "opened");
    this.#logger.error(
      {
        ...seen,
        kind: want.kind,
        leafIndex: String(want.leafIndex),
        challengeId: String(result.challengeId),
        upheld: result.upheld,
        tx: result.hash,
      },
      "a node settled more than the gateway's receipts and signed bounds allow: challenged",
    );
  }

  async #challenge(
    stackId: bigint,
    want: WantedChallenge,
  ): Promise<Awaited<ReturnType<typeof challengeLeafIndex>>> {
    if (!want.receipt) return challengeLeafIndex(this.#chain, { stackId, leafIndex: want.leafIndex });
    return challengeSettlement(this.#chain, {
      stackId,
      response: want.receipt.fields,
      signature: want.receipt.signature,
    });
  }

  /**
   * The leaves to challenge by index among those past the last accepted receipt (`lastReceipted`) that the
   * settlement counts: the first the gateway never signed (the node cannot show a signature for it: gap leaves
   * between signed ones included), alone; else, when the units claimed above the receipts (`excess`) exceed the
   * sum of the bounds signed at each of them (a set: each nonce its own), every one of them, earliest first (see
   * `receiptlessLeaves`); else none (the node could prove each). A stack signed before
   * bounds were kept per nonce goes by its high-water marks (`signedBelowNonce`, `signedMaxUnits`).
   */
  async #receiptless(
    stack: WatchedStack,
    lastReceipted: bigint | undefined,
    excess: bigint,
    count: bigint,
  ): Promise<ReturnType<typeof receiptlessLeaves>> {
    const first = lastReceipted === undefined ? 0n : lastReceipted + 1n;
    const bounds = await this.#pool.signedBounds(stack.stackId);
    const legacy = bounds.size === 0;
    const signedAt = (i: bigint): SignedAt => {
      const bound = bounds.get(i);
      if (bound !== undefined) return bound;
      if (!legacy || i >= stack.signedBelowNonce) return "unsigned";
      return stack.signedMaxUnits === 0n ? "unbounded" : stack.signedMaxUnits;
    };
    const signedCount = BigInt(Math.max(bounds.size, Number(stack.signedBelowNonce)));
    return receiptlessLeaves(first, count, excess, signedCount, signedAt);
  }

  /** A stack its node did not settle by the deadline is timed out: the gateway is refunded, the node slashed. */
  async #timeOutIfUnsettled(stack: WatchedStack, now: bigint): Promise<void> {
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
    // Nothing was paid for it (a failure here: the next pass finds it timed out and calls it again).
    await this.#onSettled?.(stack, 0n);
    this.#done.add(stack.stackId);
    this.#logger.warn(
      { stackId: String(stack.stackId), nodeId: String(stack.nodeId), refunded: String(timedOut.refunded) },
      "a node did not settle a stack of the gateway's by its deadline: timed out, the escrow refunded",
    );
  }

  /**
   * The challenges the wallet opened on `stacks` that the database may not hold (opened before it kept them), from
   * the chain's logs over the last `RECOVERY_BLOCKS` (review challenges MEDIUM-3): written to it, so they count as
   * opened and those still open are followed until resolved, whatever the settlement's phase. Run on every watched
   * stack at the first pass and on a stack met disputed that was not looked at yet; best effort (the rows are what
   * the watcher follows).
   */
  async #recover(stacks: readonly { stackId: bigint }[]): Promise<void> {
    const found = await readOwnChallenges(
      this.#chain,
      stacks.map((stack) => stack.stackId),
      { maxBlocks: this.#o.maxLogBlocks },
    );
    for (const challenge of found) await this.#book.made(challenge);
    for (const stack of stacks) this.#recovered.add(stack.stackId);
  }

  /**
   * The ids of the challenges sent whose transaction outlived its wait (or whose gateway died before it knew), from
   * the logs since the block each was first sent at, `maxLogBlocks` a call. One the logs do not show was not made
   * (yet): an index one is sent again (the chain refuses an index challenged twice, and that refusal brings it
   * back here), a receipt one only once `RECEIPT_PENDING_BLOCKS` have passed with none of the wallet's transactions
   * pending (review rev3 W3-1). A failure is logged (false): the next pass tries again.
   */
  async #lookUpSent(): Promise<boolean> {
    try {
      if ((await this.#book.unknown()).length === 0) return true;
      // Under the wallet's lock (review R4-3): no gateway is then between its claim and its send.
      await this.#pool.withWallet(() => this.#lookUpSentLocked());
      return true;
    } catch (error) {
      this.#logger.warn({ err: error }, "looking up the ids of challenges sent failed");
      return false;
    }
  }

  /** `#lookUpSent`, the wallet's lock held. */
  async #lookUpSentLocked(): Promise<void> {
    const sent = await this.#book.unknown();
    if (sent.length === 0) return;
    const named = (one: ChallengeKey & { stackId: bigint }) => `${one.stackId}:${keyOf(one)}`;
    let fromBlock: bigint | undefined;
    for (const one of sent) {
      const scanned = (this.#scannedTo.get(named(one)) ?? 0n) - RESCAN_BLOCKS;
      const from = scanned > one.sentBlock ? scanned : one.sentBlock;
      if (fromBlock === undefined || from < fromBlock) fromBlock = from;
    }
    const head = await this.#chain.publicClient.getBlockNumber();
    // Read before the logs: with none of the wallet's transactions pending then, one sent before was mined (and
    // the logs, read after, show it) or dropped. A receipt challenge still pending is never sent again (review
    // rev3 W3-1: a transaction stuck past the wait and its resend both landed, two bonds on one leaf).
    const overdue = sent.some(
      (one) => one.kind === "receipt" && head >= one.sentBlock + RECEIPT_PENDING_BLOCKS,
    );
    const idle = overdue && (await this.#walletIdle());
    const stackIds = [...new Set(sent.map((one) => one.stackId))];
    const found = await readOwnChallenges(this.#chain, stackIds, {
      fromBlock,
      maxBlocks: this.#o.maxLogBlocks,
    });
    const shown = new Set(found.map(named));
    for (const challenge of found) await this.#book.made(challenge);
    for (const one of sent) this.#scannedTo.set(named(one), head);
    for (const one of sent) {
      if (shown.has(named(one))) {
        this.#scannedTo.delete(named(one));
        continue;
      }
      if (one.kind === "receipt" && (head < one.sentBlock + RECEIPT_PENDING_BLOCKS || !idle)) continue;
      await this.#book.failed(one.stackId, [one]);
    }
  }

  /** None of the wallet's transactions is pending (its next nonce is the one mined next). */
  async #walletIdle(): Promise<boolean> {
    const address = this.#chain.walletClient.account.address;
    const [mined, pending] = await Promise.all([
      this.#chain.publicClient.getTransactionCount({ address, blockTag: "latest" }),
      this.#chain.publicClient.getTransactionCount({ address, blockTag: "pending" }),
    ]);
    return pending <= mined;
  }

  /**
   * Resolves the gateway's challenges the node left unanswered past the deadline (the node is slashed), every open
   * one the database holds. Each on its own (review rev W-4): one resolved by someone else first, or failing
   * otherwise, is read again and never stops the others.
   */
  async #resolveOpen(now: bigint): Promise<void> {
    for (const open of await this.#book.open()) {
      const { challengeId } = open;
      const ids = {
        challengeId: String(challengeId),
        stackId: String(open.stackId),
        nodeId: String(open.nodeId),
      };
      try {
        await this.#follow(open, now, ids);
      } catch (error) {
        this.#logger.warn({ ...ids, err: error }, "resolving a challenge failed");
        const status: number =
          (await getChallenge(this.#chain, challengeId).catch(() => undefined))?.status ?? 0;
        // A dismissed index challenge stays open until its answer was checked (review rev3 W3-4).
        if (
          status === ChallengeStatus.Upheld ||
          (status === ChallengeStatus.Dismissed && open.kind !== "index")
        )
          await this.#book.closed(challengeId).catch(() => undefined);
      }
    }
  }

  /** One open challenge: closed when the chain resolved it, resolved when its deadline is past. */
  async #follow(open: OpenChallenge, now: bigint, ids: Record<string, string>): Promise<void> {
    const { challengeId } = open;
    const status: number = (await getChallenge(this.#chain, challengeId)).status;
    if (status === ChallengeStatus.Dismissed) {
      // Closed only once its answer was checked (review rev3 W3-4): a check that failed (the RPC, the bond, a
      // revert) is tried again at the next pass while the settlement's window lasts, else the receipt challenge
      // against a rewritten tree would be forgotten for good.
      if (open.kind === "index" && !(await this.#checkedRevealed(challengeId, open, now, ids))) return;
      await this.#book.closed(challengeId);
      this.#onChallenge?.(open.kind, "dismissed");
      this.#logger.warn(ids, "the node answered the gateway's challenge: the bond went to its operator");
    } else if (status === ChallengeStatus.Upheld) {
      await this.#book.closed(challengeId);
    } else if (now > open.answerDeadline) {
      const resolved = await this.#pool.withWallet(() => resolveChallenge(this.#chain, { challengeId }));
      await this.#book.closed(challengeId);
      this.#onChallenge?.(open.kind, "upheld");
      this.#logger.error(
        { ...ids, slashed: String(resolved.slashed), ownerShare: String(resolved.ownerShare) },
        "the node did not answer the gateway's challenge: slashed, its settlement failed",
      );
    }
  }

  /**
   * Checks an answered index challenge's revealed leaf (`#checkRevealed`): true once done, or once it can no longer
   * matter (the settlement's challenge window is over, or it cannot be read as challengeable); false to try again.
   */
  async #checkedRevealed(
    challengeId: bigint,
    open: OpenChallenge,
    now: bigint,
    ids: Record<string, string>,
  ): Promise<boolean> {
    try {
      await this.#checkRevealed(challengeId, open);
      return true;
    } catch (error) {
      const settlement = await getSettlement(this.#chain, open.stackId);
      const phase: number = settlement.phase;
      // A revealed leaf stays checkable past the window for a while (review rev4 R4-6: `checkUntil`).
      const { releaseAfter } = await heldBondsState(this.#chain, open.stackId);
      const over = OVER.has(phase) || (settlement.windowEnds > 0n && now > releaseAfter);
      this.#logger.warn(
        { ...ids, err: error, retried: !over },
        "checking the leaf an index challenge's answer revealed failed",
      );
      return over;
    }
  }

  /**
   * An answered index challenge reveals the leaf before the one challenged (the chain ties the running total to
   * it): when the gateway holds an accepted receipt for that leaf and the revealed one is not it, the settled tree
   * is not what the node signed, and the settlement is challenged with that receipt (the node cannot prove it).
   */
  async #checkRevealed(challengeId: bigint, open: OpenChallenge): Promise<void> {
    const hash = await this.#resolvedIn(challengeId, open.openedAt);
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
    // Opened beside the index challenges already (or refused for good): no second bond.
    const key = { kind: "receipt" as const, leafIndex: previous.leafIndex };
    if ((await this.#book.madeOn(open.stackId)).has(keyOf(key))) return;
    const stack = { stackId: open.stackId, nodeId: open.nodeId };
    let opened: Awaited<ReturnType<typeof challengeSettlement>> | undefined;
    try {
      opened = await this.#claimAndSend(stack, [key], () =>
        challengeSettlement(this.#chain, {
          stackId: open.stackId,
          response: held.receipt.fields,
          signature: held.receipt.signature,
        }),
      );
    } catch (error) {
      if (error instanceof ContractRevertError) await this.#book.failed(open.stackId, [key]);
      throw error;
    }
    if (opened === undefined) return;
    await this.#book.made({
      ...stack,
      ...key,
      challengeId: opened.challengeId,
      open: !opened.upheld,
      answerDeadline: opened.answerDeadline,
      openedAt: opened.blockNumber,
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

  /**
   * The transaction that resolved the challenge, from the `ChallengeResolved` logs since the block it opened in
   * (review challenges LOW-6: many RPCs refuse a range from block 0), `maxLogBlocks` a call (review rev W-2).
   */
  async #resolvedIn(challengeId: bigint, openedAt: bigint): Promise<`0x${string}` | undefined> {
    const head = await this.#chain.publicClient.getBlockNumber();
    const span = (this.#o.maxLogBlocks ?? 0n) > 0n ? (this.#o.maxLogBlocks as bigint) : DEFAULT_LOG_BLOCKS;
    for (let fromBlock = openedAt; fromBlock <= head; fromBlock += span) {
      const resolved = await this.#chain.publicClient.getContractEvents({
        address: this.#chain.addresses.ChallengeManager,
        abi: challengeManagerAbi,
        eventName: "ChallengeResolved",
        args: { challengeId },
        fromBlock,
        toBlock: fromBlock + span - 1n < head ? fromBlock + span - 1n : head,
      });
      const hash = resolved.at(-1)?.transactionHash;
      if (hash) return hash;
    }
    return undefined;
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
