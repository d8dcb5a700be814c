import {
  type ChainContext,
  ChallengeStatus,
  getChallenge,
  getNode,
  getSettlement,
  getStack,
  nodeRegistryAbi,
  resolveChallenge,
  SettlementPhase,
} from "@atoma/chain/portable";
import { atomaDomain } from "@atoma/core";
import type { KeptReceipt } from "../StackClient.js";
import type { KeptChallenge, UnprovenLeaf } from "../state/stackState.js";
import type { AdoptedNotSettled } from "./adoptedAudit.js";
import { type AdoptedChallenge, challengeAdoptedNotSettled } from "./challengeAdopted.js";
import { keptReceiptProblem } from "./keptReceiptCheck.js";

/**
 * Where the audit finds an owner's adopted receipts and keeps what it does: the SDK's `KeptStacks` (direct mode) or
 * `atoma chat`'s receipts directory. Every write is done before the next step relies on it.
 */
export interface AdoptedAuditBook {
  /** The stacks holding adopted receipts whose audit is not over. */
  stacks(): Promise<readonly bigint[]>;
  /**
   * The stack's kept receipts: the adopted ones, and the client's own, which the audit takes up only where another
   * leaf was adopted at their index (second review of issue 13, MEDIUM-C).
   */
  adopted(stackId: bigint): Promise<readonly KeptReceipt[]>;
  /** The challenges opened on the stack so far (kept as each was mined). */
  challenges(stackId: bigint): Promise<readonly KeptChallenge[]>;
  keepChallenge(stackId: bigint, challenge: KeptChallenge): Promise<void>;
  /** Nothing left to do on the stack: its challenge window is over and every challenge resolved. */
  audited(stackId: bigint): Promise<void>;
  /** The adopted leaves found unproven on earlier runs. */
  unproven(stackId: bigint): Promise<readonly UnprovenLeaf[]>;
  /** Those found unproven now (each with its runs so far); the rest are proven or challenged since. */
  keepUnproven(stackId: bigint, leaves: readonly UnprovenLeaf[]): Promise<void>;
  /**
   * Claims the challenges of leaves (their hashes) under the store's lock before they are sent, all in one update:
   * those claimed by this caller; another process of the owner claimed the rest (second review of issue 13, I). A
   * book without it is one process's only.
   */
  claimChallenges?(stackId: bigint, leaves: readonly string[]): Promise<string[]>;
  /**
   * Stamps this caller's claims of `leaves` again while their challenges are sent (review LOW-6): those still its.
   */
  refreshClaims?(stackId: bigint, leaves: readonly string[]): Promise<string[]>;
  /** Lets go of a claim: its challenge is kept, or was not sent. */
  releaseClaim?(stackId: bigint, leaf: string): Promise<void>;
}

/** When unproven leaves are reported as persistent (`persistentlyUnproven`): so many runs over so long. */
export interface UnprovenEscalation {
  /** @default 5 */
  runs?: number | undefined;
  /** @default 10 minutes */
  afterMs?: number | undefined;
}

/** What one stack's audit did. */
export interface StackAuditReport {
  stackId: bigint;
  /**
   * `unsettled`: nothing settled yet, looked at again later; `open`: within the challenge window, audited;
   * `waiting`: a settlement not (yet) challengeable (its attestation under way or disputed); `over`: the audit ended.
   */
  state: "unsettled" | "open" | "waiting" | "over";
  opened: AdoptedChallenge[];
  /** Challenges this run resolved (past their answer deadline, unanswered: the node slashed), or found resolved. */
  resolved: { challengeId: bigint; upheld: boolean; slashed: bigint }[];
  /** Adopted leaves the node proved neither way: no bond taken; looked at again while the window lasts. */
  unproven: AdoptedNotSettled[];
  /**
   * Kept adopted receipts that are not evidence (review of issue 13, LOW-1: the store was altered, or holds a receipt
   * of another node): left out of this run, never challenged (a challenge with one reverts, spending gas), each with
   * why; the other receipts of the stack are audited as usual.
   */
  rejected?: { receipt: unknown; reason: string }[];
  /**
   * Those of `unproven` the node has refused to prove on `escalation.runs` runs over at least `afterMs` (review
   * LOW: unreadable leaves never escalated): the node keeps the owner from its evidence; the caller acts (puts the
   * node aside, raises it) while the window lasts.
   */
  persistentlyUnproven: (AdoptedNotSettled & UnprovenLeaf)[];
  /**
   * Leaves not settled left for the next run: past the challenges one run sends (`MAX_CHALLENGES_PER_RUN`, and what
   * the stack may still take on-chain), two leaves at one index always sent together.
   */
  deferred?: AdoptedNotSettled[];
  /**
   * Open challenges whose resolution failed this run (a revert, the RPC), each with its error: the others are
   * resolved all the same, and the next run tries these again (second review of issue 13, H).
   */
  unresolved?: { challengeId: bigint; error: unknown }[];
  /** The stack's audit failed partway (a revert, the RPC): the challenges it opened before are in `opened`. */
  error?: unknown;
}

const challengeable = (phase: number, windowEnds: bigint) =>
  phase === SettlementPhase.Accepted || (phase === SettlementPhase.Disputed && windowEnds > 0n);

/** Phases after which nothing of the stack can be challenged any more. */
const ENDED = new Set<number>([SettlementPhase.Finalized, SettlementPhase.Failed, SettlementPhase.TimedOut]);

/**
 * Runs the adopted-leaf audit (`challengeAdoptedNotSettled`) on every stack of `book` whose settlement is
 * challengeable now, with no one calling it by hand: each challenge opened kept as its transaction is mined; each
 * open challenge past its answer deadline resolved (the node, unable to prove a leaf it did not settle, slashed);
 * a stack whose window is over with nothing open taken off the book. A stack whose audit fails is reported with
 * its error and what it opened, and the others still run.
 */
export async function auditAdoptedStacks(
  ctx: ChainContext,
  book: AdoptedAuditBook,
  options: {
    fetch?: typeof fetch | undefined;
    fromBlock?: bigint | undefined;
    escalation?: UnprovenEscalation | undefined;
  } = {},
): Promise<StackAuditReport[]> {
  const reports: StackAuditReport[] = [];
  for (const stackId of await book.stacks()) {
    const report: StackAuditReport = {
      stackId,
      state: "unsettled",
      opened: [],
      resolved: [],
      unproven: [],
      persistentlyUnproven: [],
    };
    reports.push(report);
    try {
      await auditStack(ctx, book, stackId, report, options);
    } catch (error) {
      report.error = error;
    }
  }
  return reports;
}

async function auditStack(
  ctx: ChainContext,
  book: AdoptedAuditBook,
  stackId: bigint,
  report: StackAuditReport,
  options: {
    fetch?: typeof fetch | undefined;
    fromBlock?: bigint | undefined;
    escalation?: UnprovenEscalation | undefined;
  },
): Promise<void> {
  const settlement = await getSettlement(ctx, stackId);
  if (settlement.phase === SettlementPhase.None) return;
  const now = (await ctx.publicClient.getBlock()).timestamp;
  const windowOpen = challengeable(settlement.phase, settlement.windowEnds) && now <= settlement.windowEnds;
  report.state = windowOpen ? "open" : "waiting";
  if (windowOpen) {
    const stack = await getStack(ctx, stackId);
    const node = await getNode(ctx, stack.nodeId);
    // Each kept receipt checked again before it is used (LOW-1): one that is not the node's is reported, not raised.
    const [nodeSigner, chainId] = await Promise.all([
      ctx.publicClient.readContract({
        address: ctx.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "signerOf",
        args: [stack.nodeId],
      }),
      ctx.publicClient.getChainId(),
    ]);
    const domain = atomaDomain(chainId, ctx.addresses.StackManager);
    const receipts: KeptReceipt[] = [];
    for (const receipt of await book.adopted(stackId)) {
      const reason = await keptReceiptProblem(receipt, stackId, domain, nodeSigner);
      if (reason === undefined) receipts.push(receipt);
      else report.rejected = [...(report.rejected ?? []), { receipt, reason }];
    }
    const audit = challengeAdoptedNotSettled(ctx, {
      stackId,
      receipts,
      nodeUrl: node.url,
      fetch: options.fetch,
      fromBlock: options.fromBlock,
      claim: book.claimChallenges && ((leaves) => book.claimChallenges!(stackId, leaves)),
      refresh: book.refreshClaims && ((leaves) => book.refreshClaims!(stackId, leaves)),
      release: book.releaseClaim && ((leaf) => book.releaseClaim!(stackId, leaf)),
      onOpened: async (c) => {
        report.opened.push(c);
        await book.keepChallenge(stackId, {
          leafIndex: c.leafIndex,
          challengeId: c.challengeId,
          upheld: c.upheld,
          answerDeadline: c.answerDeadline,
          ...(c.upheld && { resolved: true as const }),
        });
      },
    });
    // A failure of the challenge step (a revert partway, bonds short, the node's proof server) is reported, and
    // the challenges opened before it, or on earlier runs, are still seen to below (second review, H).
    const { unproven, deferred } = await audit.catch((error: unknown) => {
      report.error = error;
      return { unproven: [], deferred: [] };
    });
    report.unproven = unproven;
    if (deferred.length > 0) report.deferred = deferred;
    if (report.error === undefined) await countUnproven(book, stackId, report, options.escalation);
  }
  let open = 0;
  for (const kept of await book.challenges(stackId)) {
    if (kept.resolved) continue;
    const onChain = await getChallenge(ctx, kept.challengeId);
    if (onChain.status === ChallengeStatus.Open && now <= kept.answerDeadline) {
      open++;
      continue;
    }
    if (onChain.status === ChallengeStatus.Open) {
      // Past its answer deadline, unanswered: upheld by anyone's call; the owner's audit makes it. One that fails
      // is reported and stays open in the book; the others are resolved all the same.
      let resolved: Awaited<ReturnType<typeof resolveChallenge>>;
      try {
        resolved = await resolveChallenge(ctx, { challengeId: kept.challengeId });
      } catch (error) {
        report.unresolved = [...(report.unresolved ?? []), { challengeId: kept.challengeId, error }];
        open++;
        continue;
      }
      report.resolved.push({
        challengeId: kept.challengeId,
        upheld: resolved.upheld,
        slashed: resolved.slashed,
      });
    } else
      report.resolved.push({
        challengeId: kept.challengeId,
        upheld: onChain.status === ChallengeStatus.Upheld,
        slashed: 0n,
      });
    await book.keepChallenge(stackId, { ...kept, resolved: true });
  }
  const windowOver =
    ENDED.has(settlement.phase) ||
    (challengeable(settlement.phase, settlement.windowEnds) && now > settlement.windowEnds);
  if (windowOver && open === 0) {
    report.state = "over";
    await book.audited(stackId);
  }
}

/** Counts the runs each adopted leaf stayed unproven (kept in the book) and reports those past `escalation`. */
async function countUnproven(
  book: AdoptedAuditBook,
  stackId: bigint,
  report: StackAuditReport,
  escalation: UnprovenEscalation | undefined,
): Promise<void> {
  const now = Date.now();
  const before = new Map((await book.unproven(stackId)).map((u) => [u.leafIndex, u]));
  const counted = report.unproven.map((u) => {
    const leafIndex = u.receipt.fields.leafIndex;
    const earlier = before.get(leafIndex);
    return { ...u, leafIndex, runs: (earlier?.runs ?? 0) + 1, since: earlier?.since ?? now };
  });
  await book.keepUnproven(
    stackId,
    counted.map(({ leafIndex, runs, since }) => ({ leafIndex, runs, since })),
  );
  report.persistentlyUnproven = counted.filter(
    (u) => u.runs >= (escalation?.runs ?? 5) && now - u.since >= (escalation?.afterMs ?? 10 * 60_000),
  );
}
