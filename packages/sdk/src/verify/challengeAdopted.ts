import {
  type ChainContext,
  challengeManagerAbi,
  challengeSettlement,
  ensureAllowance,
  getSettlement,
} from "@atoma/chain/portable";
import { leafHash, leafOf } from "@atoma/core";
import { erc20Abi } from "viem";
import { AdoptedAuditInterruptedError, ChallengeBondsShortError } from "../errors.js";
import type { KeptReceipt } from "../StackClient.js";
import { CLAIM_STANDS_MS } from "../state/stackState.js";
import { type AdoptedNotSettled, adoptedLeavesNotSettled } from "./adoptedAudit.js";

/** One adopted receipt the settlement lacks, and the challenge opened with it. */
export interface AdoptedChallenge {
  leafIndex: bigint;
  reason: string;
  challengeId: bigint;
  /** True when the signature alone convicted the node (the leaf lies past the settled count). */
  upheld: boolean;
  answerDeadline: bigint;
}

/** What `challengeAdoptedNotSettled` audits: one stack's kept receipts and where its node serves proofs. */
export type ChallengeAdoptedArgs = {
  stackId: bigint;
  receipts: readonly KeptReceipt[];
  nodeUrl: string;
  fetch?: typeof fetch | undefined;
  fromBlock?: bigint | undefined;
  /**
   * Called with each challenge as soon as its transaction is mined, before the next is sent (a promise returned is
   * waited for): keep its id, so that a failure further on loses none (review LOW).
   */
  onOpened?: ((challenge: AdoptedChallenge) => void | Promise<void>) | undefined;
  /**
   * Claims the challenges of leaves (their hashes) in the owner's store before they are sent (second review of
   * issue 13, I), all at once: those claimed here; another process of the owner sends the others, this run does not.
   */
  claim?: ((leaves: readonly string[]) => Promise<string[]>) | undefined;
  /**
   * Stamps the claims of `leaves` again (review LOW-6): called before each challenge is sent and every third of
   * `CLAIM_STANDS_MS` while the run lasts; returns those still this run's (one not is left to its new claimant).
   */
  refresh?: ((leaves: readonly string[]) => Promise<string[]>) | undefined;
  /** Lets go of a claim: its challenge is kept (after `onOpened`), or was not sent. */
  release?: ((leaf: string) => Promise<void>) | undefined;
};

/**
 * Review H1 of the leaf adoption, the owner's side: once the stack is settled, every adopted receipt (another
 * client's leaf, shown on `nonce_reused`) the node proves under no settled root is raised as
 * `ChallengeManager.challenge`. The node cannot prove a leaf it did not settle, so the challenge is upheld at its
 * answer deadline (`resolveChallenge`): the node slashed, the owner's bond back. `receipts` are those of one stack,
 * as kept (only the adopted ones are audited); the caller checks the settlement is challengeable (the contract
 * reverts otherwise). A leaf already challenged on this stack (a `ChallengeOpened` since `fromBlock`, default 0) is
 * not challenged again, so a rerun takes no second bond. Returns the challenges opened, none when every adopted leaf
 * is settled or already challenged, and the adopted leaves the node would not prove either way (`unproven`, review
 * MED-2): those take no bond here (a node refusing the proof of a leaf it did settle answers the challenge and keeps
 * the bond); the caller reports them, and an audit run again before the window ends looks at them again.
 */
export function challengeAdoptedNotSettled(
  ctx: ChainContext,
  args: ChallengeAdoptedArgs,
): Promise<{ opened: AdoptedChallenge[]; unproven: AdoptedNotSettled[]; deferred: AdoptedNotSettled[] }> {
  // One audit of a stack at a time in this process (review of issue 13, LOW-2: two clients of one owner, e.g. the
  // playground's client per question, each ran one and both challenged one leaf, two bonds): each reads the
  // challenges the one before it opened.
  const key = `${ctx.addresses.ChallengeManager.toLowerCase()}:${args.stackId}`;
  const before = auditsRunning.get(key) ?? Promise.resolve();
  const run = before.then(
    () => challengeOnce(ctx, args),
    () => challengeOnce(ctx, args),
  );
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  auditsRunning.set(key, settled);
  void settled.then(() => {
    if (auditsRunning.get(key) === settled) auditsRunning.delete(key);
  });
  return run;
}

const auditsRunning = new Map<string, Promise<void>>();

async function challengedLeaves(ctx: ChainContext, stackId: bigint, fromBlock: bigint): Promise<Set<string>> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    eventName: "ChallengeOpened",
    args: { stackId },
    fromBlock,
  });
  return new Set(logs.flatMap((log) => (log.args.leaf ? [log.args.leaf.toLowerCase()] : [])));
}

/** At most so many challenges per run of a stack's audit (second review of issue 13, D); the rest wait for the next. */
export const MAX_CHALLENGES_PER_RUN = 8;

/** The settled count and units a receipt is checked against (`getSettlement`). */
export interface SettledTotals {
  requestCount: bigint;
  units: bigint;
}

/**
 * Whether the contract upholds a challenge of `fields` at once, with no bond and outside `maxChallengesPerStack`
 * (`ChallengeManager.challenge`): a leaf past the settled count, or the last leaf signed for fewer units than were
 * settled (an over-claim).
 */
export function provenBySignature(
  fields: { leafIndex: bigint; cumulativeUnits: bigint },
  settled: SettledTotals,
) {
  return (
    fields.leafIndex >= settled.requestCount ||
    (fields.leafIndex + 1n === settled.requestCount && fields.cumulativeUnits < settled.units)
  );
}

/**
 * The challenges to send, in order: first those the signature proves alone (`provenBySignature`, given `settled`):
 * no bond, never counted against the cap, the first upheld fails the settlement (review MEDIUM-2); then two leaves
 * at one index back to back (at most one of them is settled, and the one that is not is what fails the settlement:
 * no other challenge between them), whole groups only, at most `MAX_CHALLENGES_PER_RUN` and `limit`; `deferred` the
 * rest, for the next run.
 */
export function challengeOrder(
  notSettled: readonly AdoptedNotSettled[],
  limit = MAX_CHALLENGES_PER_RUN,
  settled?: SettledTotals,
): {
  send: AdoptedNotSettled[];
  deferred: AdoptedNotSettled[];
} {
  const proven = settled ? notSettled.filter((leaf) => provenBySignature(leaf.receipt.fields, settled)) : [];
  const groups = new Map<bigint, AdoptedNotSettled[]>();
  for (const leaf of notSettled) {
    if (proven.includes(leaf)) continue;
    const index = leaf.receipt.fields.leafIndex;
    groups.set(index, [...(groups.get(index) ?? []), leaf]);
  }
  const bonded: AdoptedNotSettled[] = [];
  const deferred: AdoptedNotSettled[] = [];
  for (const group of groups.values()) {
    if (bonded.length + group.length <= Math.min(limit, MAX_CHALLENGES_PER_RUN)) bonded.push(...group);
    else deferred.push(...group);
  }
  return { send: [...proven, ...bonded], deferred };
}

/**
 * Checks the owner holds the bonds of every challenge `bonded` takes (`challengeBond` each) and approves them all at
 * once, before the first is sent: a run never stops halfway for want of tokens (second review, D). Challenges the
 * signature proves alone take no bond and are not passed here (review MEDIUM-2).
 */
async function fundBonds(ctx: ChainContext, stackId: bigint, bonded: readonly AdoptedNotSettled[]) {
  const answerable = bonded.length;
  if (answerable === 0) return;
  const [, , bond] = await ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "params",
  });
  const needed = bond * BigInt(answerable);
  const owner = ctx.walletClient.account.address;
  const balance = await ctx.publicClient.readContract({
    address: ctx.addresses.AtomaToken,
    abi: erc20Abi,
    functionName: "balanceOf",
    args: [owner],
  });
  if (balance < needed) throw new ChallengeBondsShortError(stackId, answerable, needed, balance);
  await ensureAllowance(ctx, ctx.addresses.ChallengeManager, needed);
}

/** How many more receipt challenges the stack takes on-chain (`maxChallengesPerStack`; more revert). */
async function challengesLeft(ctx: ChainContext, stackId: bigint): Promise<number> {
  const [[, max], taken] = await Promise.all([
    ctx.publicClient.readContract({
      address: ctx.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      functionName: "params",
    }),
    ctx.publicClient.readContract({
      address: ctx.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      functionName: "challengesOf",
      args: [stackId],
    }),
  ]);
  return Math.max(0, Number(max) - Number(taken));
}

async function challengeOnce(
  ctx: ChainContext,
  args: ChallengeAdoptedArgs,
): Promise<{ opened: AdoptedChallenge[]; unproven: AdoptedNotSettled[]; deferred: AdoptedNotSettled[] }> {
  const settlement = await getSettlement(ctx, args.stackId);
  const { notSettled, unproven } = await adoptedLeavesNotSettled({
    receipts: args.receipts.filter((r) => r.fields.stackId === args.stackId),
    nodeUrl: args.nodeUrl,
    settled: { root: settlement.root, requestCount: BigInt(settlement.requestCount) },
    fetch: args.fetch,
  });
  const opened: AdoptedChallenge[] = [];
  // Leaves challenged already (a rerun, another client) and leaves another process of the owner is sending now
  // (claimed in the store: second review of issue 13, I) are left out before any bond is counted.
  const before = await challengedLeaves(ctx, args.stackId, args.fromBlock ?? 0n);
  const claimed: AdoptedNotSettled[] = [];
  const sent = new Set<string>();
  /** Claims this run lost to another process (lapsed, taken since): that process sends and lets go of them. */
  const lost = new Set<string>();
  try {
    const hashOf = (leaf: AdoptedNotSettled) => leafHash(leafOf(leaf.receipt.fields)).toLowerCase();
    const fresh = notSettled.filter((leaf) => !before.has(hashOf(leaf)));
    const mine = args.claim ? new Set(await args.claim(fresh.map(hashOf))) : undefined;
    claimed.push(...fresh.filter((leaf) => mine === undefined || mine.has(hashOf(leaf))));
    const totals = { requestCount: BigInt(settlement.requestCount), units: BigInt(settlement.units) };
    const { send, deferred } = challengeOrder(claimed, await challengesLeft(ctx, args.stackId), totals);
    for (const leaf of deferred) await args.release?.(hashOf(leaf));
    const proven = send.filter((leaf) => provenBySignature(leaf.receipt.fields, totals));
    const bonded = send.filter((leaf) => !proven.includes(leaf));
    let funded = false;
    // Claims kept fresh while the run lasts, however long a transaction takes (review LOW-6).
    const unsent = () => send.map(hashOf).filter((h) => !sent.has(h) && !lost.has(h));
    const refresh = args.refresh;
    const keepFresh =
      refresh &&
      setInterval(() => {
        void refresh(unsent()).catch(() => undefined);
      }, CLAIM_STANDS_MS / 3);
    (keepFresh as { unref?: () => void } | undefined)?.unref?.();
    try {
      for (const leaf of [...proven, ...bonded]) {
        const { receipt, reason } = leaf;
        const hash = hashOf(leaf);
        if (refresh && !(await refresh([hash])).includes(hash)) {
          // Lapsed and taken by another process of the owner meanwhile: it sends this one, not this run.
          lost.add(hash);
          continue;
        }
        // The first upheld challenge fails the settlement: the contract takes no other (the rest are moot, let go).
        if (opened.some((c) => c.upheld)) {
          await args.release?.(hash);
          continue;
        }
        // Bonds are checked only once the free proofs are out: one the owner cannot fund never stops those.
        if (!funded && !proven.includes(leaf)) {
          await fundBonds(ctx, args.stackId, bonded);
          funded = true;
        }
        // Read again after the claim (a process whose claim went stale may have sent it meanwhile: LOW-2).
        if ((await challengedLeaves(ctx, args.stackId, args.fromBlock ?? 0n)).has(hash)) {
          await args.release?.(hash);
          continue;
        }
        try {
          const result = await challengeSettlement(ctx, {
            stackId: args.stackId,
            response: receipt.fields,
            signature: receipt.signature,
          });
          const challenge: AdoptedChallenge = {
            leafIndex: receipt.fields.leafIndex,
            reason,
            challengeId: result.challengeId,
            upheld: result.upheld,
            answerDeadline: result.answerDeadline,
          };
          opened.push(challenge);
          sent.add(hash);
          await args.onOpened?.(challenge);
          await args.release?.(hash);
        } catch (cause) {
          // A revert (or an RPC failure) partway: the challenges opened so far are reported with it, not lost.
          throw new AdoptedAuditInterruptedError(args.stackId, opened, receipt.fields.leafIndex, { cause });
        }
      }
    } finally {
      if (keepFresh) clearInterval(keepFresh);
    }
    return { opened, unproven, deferred };
  } catch (error) {
    // What was claimed and not sent is let go: another run (this one again, another process) may send it.
    for (const leaf of claimed) {
      const hash = leafHash(leafOf(leaf.receipt.fields)).toLowerCase();
      if (!sent.has(hash) && !lost.has(hash)) await args.release?.(hash).catch(() => undefined);
    }
    throw error;
  }
}
