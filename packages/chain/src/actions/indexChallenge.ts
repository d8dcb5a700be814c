import { challengeManagerAbi } from "@atoma/contracts";
import type { Hash, StackLeaf } from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { approveChallengeBond, type ChallengeResult, challengeResult } from "./challengeSettlement.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

/**
 * The stack owner challenges settled leaf `leafIndex` as a request it never signed (typically one past its last
 * receipt: a leaf the node added). The owner pays the challenge bond (approved here when needed); the node has
 * until `answerDeadline` to show the leaf under its root with the owner's signature on its request (whose
 * `maxUnits` the leaf's units must not exceed), or it is slashed for fraud. An index challenge always waits for the node, so `upheld` is false.
 */
export async function challengeLeafIndex(
  ctx: ChainContext,
  params: { stackId: bigint; leafIndex: bigint },
): Promise<ChallengeResult> {
  await approveChallengeBond(ctx);
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "challengeIndex",
    args: [params.stackId, params.leafIndex],
  });
  return challengeResult(receipt);
}

/** The most indices `challengeLeafIndices` opens in one transaction (the contract's `MAX_BATCH`). */
export const MAX_INDEX_BATCH = 64;

/**
 * Opens index challenges on up to `MAX_INDEX_BATCH` leaves in one transaction (review fresh 2 MEDIUM-C): one bond
 * each, approved here for the lot; answer deadlines spaced in the order given. One result per index, in order.
 */
export async function challengeLeafIndices(
  ctx: ChainContext,
  params: { stackId: bigint; leafIndices: readonly bigint[] },
): Promise<ChallengeResult[]> {
  const [, , bond] = await ctx.publicClient.readContract({
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "params",
  });
  await ensureAllowance(ctx, ctx.addresses.ChallengeManager, bond * BigInt(params.leafIndices.length));
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "challengeIndices",
    args: [params.stackId, [...params.leafIndices]],
  });
  const info = txInfo(receipt);
  return parseEventLogs({ abi: challengeManagerAbi, logs: receipt.logs, eventName: "ChallengeOpened" }).map(
    (opened) => ({
      ...info,
      challengeId: opened.args.challengeId,
      upheld: false,
      answerDeadline: opened.args.answerDeadline,
      bond: opened.args.bond,
    }),
  );
}

export interface IndexChallengeAnswer {
  challengeId: bigint;
  /** The leaf at the challenged index (its nonce is the index). */
  leaf: StackLeaf;
  /** The request's deadline, unit bound and the owner's EIP-712 `AtomaRequest` signature, as the owner sent them. */
  deadline: bigint;
  /** The chain refuses (`UnitsOverSigned`) a leaf whose units exceed it: the node is then slashed. */
  maxUnits: bigint;
  ownerSignature: Hex;
  /** The leaf's stack-tree proof against the settled root. */
  proof: readonly Hash[];
  /**
   * The leaf before it (none at index 0) and its proof: the chain refuses (`RunningTotalBroken`) an answer whose
   * running total does not follow from it, or, at the last index, is not the units settled.
   */
  previous: StackLeaf | undefined;
  previousProof: readonly Hash[];
}

const NO_LEAF: StackLeaf = {
  leafIndex: 0n,
  nonce: 0n,
  reqHash: `0x${"0".repeat(64)}`,
  respHash: `0x${"0".repeat(64)}`,
  units: 0n,
  cumulativeUnits: 0n,
};

/** The challenged node answers an index challenge, which dismisses it and earns it the bond. */
export async function answerIndexChallenge(ctx: ChainContext, params: IndexChallengeAnswer): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ChallengeManager,
    abi: challengeManagerAbi,
    functionName: "answerIndexChallenge",
    args: [
      params.challengeId,
      params.leaf,
      params.deadline,
      params.maxUnits,
      params.ownerSignature,
      params.proof,
      params.previous ?? NO_LEAF,
      params.previousProof,
    ],
  });
  return txInfo(receipt);
}
